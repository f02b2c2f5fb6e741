"""Refresh the README's screenshot gallery from the end-to-end suite's screenshots.

    make e2e            # or .venv/bin/pytest e2e: writes e2e/artifacts/<screen>-<phone|desktop>.png
    .venv/bin/python scripts/gallery.py

Each screen below is copied at both sizes into docs/screenshots as WebP (a tenth of the PNG's bytes), and
the table between the README's gallery markers is written again.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "e2e" / "artifacts"
GALLERY = ROOT / "docs" / "screenshots"
README = ROOT / "README.md"
START, END = "<!-- gallery -->", "<!-- /gallery -->"

# (artifact, what it shows), in the order of the guide.
SCREENS = [
    ("01-login", "登录"),
    ("01-login-locked", "登录: the lock after five wrong passwords, with the time it ends"),
    ("02-register", "注册, the code sent and its countdown"),
    ("02-register-error", "注册: an error next to its field, nothing typed lost"),
    ("02-register-dates", "注册: a date typed as the card prints it, shown in the one format"),
    ("02-register-already", "注册: already registered, with 去登录 and 忘记密码"),
    ("03-agreement", "用户协议 over the filled form"),
    ("03-login-failed-offers-activation", "A failed login offers 激活账号 (FAQ 3)"),
    ("04-activate-step1", "激活账号, step 1"),
    ("05-activate-step2", "激活账号, step 2"),
    ("04-activate-face", "激活账号 when the phone on record no longer works: the face"),
    ("06-face-login", "人脸登录"),
    ("07-forgot-password", "忘记密码"),
    ("07-forgot-password-sms", "忘记密码 by SMS"),
    ("08-reset-password-after-sms", "重置密码"),
    ("09-account", "账号管理 with the first-login guide to level 4"),
    ("10-change-phone", "修改手机号"),
    ("11-level", "实名等级"),
    ("11-level-withdraw-confirm", "撤回人脸授权 asks first"),
    ("13-business", "工商注册 and the filings that name the person"),
    ("13-upgrade-dialog", "方式二: 是 at level 3 opens 提升实名等级"),
    ("13-filing", "A filing in detail"),
    ("14-change-password", "修改密码"),
    ("16-faq", "常见问题"),
    ("17-face-scan-consent", "The face scan with its consent notice"),
    ("17-face-scan-live", "The face scan, live"),
    ("18-offline", "Offline"),
    ("21-devices", "我的设备: this device and another, which may be signed out"),
    ("22-activity", "账号动态: the account's own events, newest first"),
    ("23-personal-data-check", "个人信息副本: the password again first"),
    ("23-personal-data", "个人信息副本: everything held, and its JSON download"),
    ("24-consent", "同意更新后的协议: a sign-in held until a raised version is accepted"),
    ("25-delete-account", "注销账号: the consequences, then the password again"),
    ("26-deletion-pending", "账号注销中: a sign-in during the cooling-off may only cancel"),
]


def convert(name: str, size: str) -> str:
    source = ARTIFACTS / f"{name}-{size}.png"
    if not source.exists():
        sys.exit(f"{source.relative_to(ROOT)} is missing: run the end-to-end suite first")
    target = GALLERY / f"{name}-{size}.webp"
    with Image.open(source) as image:
        image.convert("RGB").save(target, "WEBP", quality=72, method=6)
    return target.relative_to(ROOT).as_posix()


def table() -> str:
    rows = ["| screen | phone (390×844) | desktop (1280×800) |", "|---|---|---|"]
    for name, caption in SCREENS:
        phone, desktop = convert(name, "phone"), convert(name, "desktop")
        rows.append(
            f'| {caption} | <img src="{phone}" width="195" alt="{caption}, phone"> '
            f'| <img src="{desktop}" width="480" alt="{caption}, desktop"> |'
        )
    return "\n".join(rows)


def main() -> None:
    GALLERY.mkdir(parents=True, exist_ok=True)
    wanted = {f"{name}-{size}.webp" for name, _ in SCREENS for size in ("phone", "desktop")}
    for old in GALLERY.iterdir():
        if old.name not in wanted:
            old.unlink()
    text = README.read_text(encoding="utf-8")
    block = f"{START}\n{table()}\n{END}"
    if START not in text:
        sys.exit(f"README.md has no {START} … {END} block")
    README.write_text(re.sub(f"{START}.*?{END}", lambda _: block, text, flags=re.S), encoding="utf-8")
    print(f"{len(SCREENS)} screens, {len(wanted)} images in {GALLERY.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
