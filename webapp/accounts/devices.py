"""A device in words, from the User-Agent a session began with: "Chrome · Windows", "微信 · iPhone".

A short table of the browsers and systems people here use, tried in order (in-app browsers and Chinese
browsers first: their User-Agents also say "Chrome" and "Safari"). Only names are shown, no versions: a
person recognises "微信 · iPhone", not "MicroMessenger/8.0.44". What is not recognised is shown as
未知浏览器 / 未知系统, never as the raw string.
"""

from __future__ import annotations

import re

from webapp.i18n import N_, _

BROWSERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"MicroMessenger/", N_("微信")),
        (r"AlipayClient/", N_("支付宝")),
        (r"DingTalk/", N_("钉钉")),
        (r"HuaweiBrowser/", N_("华为浏览器")),
        (r"MiuiBrowser/|XiaoMi/MiuiBrowser", N_("小米浏览器")),
        (r"M?QQBrowser/", N_("QQ浏览器")),
        (r"UCBrowser/|UCWEB", N_("UC浏览器")),
        (r"Quark/", N_("夸克浏览器")),
        (r"360SE|QihooBrowser|QHBrowser", N_("360浏览器")),
        (r"Edg(e|A|iOS)?/", "Edge"),
        (r"OPR/|Opera", "Opera"),
        (r"Firefox/|FxiOS/", "Firefox"),
        (r"Chrome/|CriOS/|Chromium/", "Chrome"),
        (r"Version/[\d.]+.*Safari/", "Safari"),
    )
)
SYSTEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"HarmonyOS|OpenHarmony", "HarmonyOS"),
        (r"iPhone", "iPhone"),
        (r"iPad", "iPad"),
        (r"Android", "Android"),
        (r"Windows", "Windows"),
        (r"Macintosh|Mac OS X", "macOS"),
        (r"CrOS", "ChromeOS"),
        (r"Linux", "Linux"),
    )
)
COMMAND_LINE = "webapp-cli"  # audit.Origin.command_line()


def describe_device(user_agent: str) -> str:
    """The browser and system of a User-Agent, in the current language."""
    if user_agent == COMMAND_LINE:
        return _("命令行")
    browser = next((name for pattern, name in BROWSERS if pattern.search(user_agent)), N_("未知浏览器"))
    system = next((name for pattern, name in SYSTEMS if pattern.search(user_agent)), N_("未知系统"))
    return f"{_(browser)} · {_(system)}"
