"""``webapp face …`` commands; the main CLI calls :func:`add_face_commands`.

``webapp face compare IMG1 IMG2 [--json] [--threshold T]`` prints the embedding distance of the one
face in each image and the decision at the threshold. Exit status: 0 same person, 1 different
people, 2 an image is unreadable or does not show exactly one usable face.

It runs in-process (no worker pool); loading the models takes about a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from webapp.face.pipeline import DEFAULT_THRESHOLD, EmbedResult

# An operator's local tool: allow phone-camera originals, still refuse decompression bombs.
CLI_MAX_BYTES = 25 * 1024 * 1024
CLI_MAX_PIXELS = 50_000_000

EXIT_MATCH, EXIT_NO_MATCH, EXIT_UNUSABLE = 0, 1, 2


def default_threshold() -> float:
    """``WEBAPP_FACE_THRESHOLD`` through the settings, else 0.5."""
    try:
        from webapp.settings import load_settings

        return float(load_settings().face_threshold)
    except Exception:  # settings missing or not valid here (e.g. no secret key): a CLI still works
        raw = os.environ.get("WEBAPP_FACE_THRESHOLD", "")
        try:
            return float(raw) if raw else DEFAULT_THRESHOLD
        except ValueError:
            return DEFAULT_THRESHOLD


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from error
    if not 0 < value < 2:
        raise argparse.ArgumentTypeError("the threshold must be between 0 and 2")
    return value


def add_face_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``face compare`` to an ``argparse`` subparsers object; each leaf sets ``func``."""
    face = subparsers.add_parser("face", help="face recognition tools", description="Face recognition tools.")
    commands = face.add_subparsers(dest="face_command", metavar="COMMAND", required=True)
    compare = commands.add_parser(
        "compare",
        help="distance between the faces of two photos",
        description="Print the embedding distance between the one face in each image and the decision. "
        "Exit status: 0 same person, 1 different people, 2 unusable image.",
    )
    compare.add_argument("image1", metavar="IMG1", help="JPEG or PNG file")
    compare.add_argument("image2", metavar="IMG2", help="JPEG or PNG file")
    compare.add_argument("--json", action="store_true", help="print one JSON object")
    compare.add_argument(
        "--threshold",
        type=_threshold,
        default=None,
        help="largest distance that counts as the same person (default: WEBAPP_FACE_THRESHOLD, else 0.5)",
    )
    compare.set_defaults(handler=run_compare)
    return face


class _Unusable(Exception):
    def __init__(self, path: str, code: str, message: str) -> None:
        super().__init__(path, code, message)
        self.path, self.code, self.message = path, code, message


def _embed_file(path: str) -> EmbedResult:
    from webapp.face.decode import FaceInputError, decode_image
    from webapp.face.pipeline import embed_array

    try:
        with Path(path).open("rb") as handle:
            data = handle.read(CLI_MAX_BYTES + 1)
    except OSError as error:
        raise _Unusable(path, "unreadable", f"无法读取文件 ({error.strerror or error})") from error
    try:
        image = decode_image(data, max_bytes=CLI_MAX_BYTES, max_pixels=CLI_MAX_PIXELS)
    except FaceInputError as error:
        raise _Unusable(path, error.code, error.message) from error
    result = embed_array(image)
    if not result.ok:
        raise _Unusable(path, result.code, result.message)
    return result


def run_compare(args: argparse.Namespace) -> int:
    """Run ``face compare`` for parsed ``args``; returns the exit status."""
    from webapp.face.pipeline import compare

    threshold = args.threshold if args.threshold is not None else default_threshold()
    try:
        first = _embed_file(args.image1)
        second = _embed_file(args.image2)
    except _Unusable as error:
        if args.json:
            print(
                json.dumps(
                    {"error": error.code, "message": error.message, "file": error.path}, ensure_ascii=False
                )
            )
        print(f"error: {error.path}: {error.message} ({error.code})", file=sys.stderr)
        return EXIT_UNUSABLE
    match, dist = compare(first.vector, second.vector, threshold)
    if args.json:
        print(json.dumps({"match": match, "distance": round(dist, 4), "threshold": threshold}))
    else:
        decision = "same person (同一人)" if match else "different people (不是同一人)"
        print(f"distance: {dist:.4f}")
        print(f"threshold: {threshold:g}")
        print(f"decision: {decision}")
    return EXIT_MATCH if match else EXIT_NO_MATCH
