"""Safe decoding of untrusted image bytes (camera frames, reference photos).

Order of the checks, cheapest first, so that a hostile upload costs almost nothing:

1. byte count (``max_bytes``);
2. magic bytes: JPEG, PNG or WebP for reference photos, JPEG alone for camera frames (GIF, BMP,
   TIFF, HEIC are named as unsupported);
3. Pillow parses the header only (``formats=`` restricts it to those plugins) and its detected
   format must agree with the magic bytes;
4. the pixel count from the header (``max_pixels``) — before any pixel is decoded, so a
   20000×20000 PNG of a few hundred bytes is refused without allocating it;
5. decoding, at reduced scale where JPEG allows it (``draft``), then downscaling so the longest
   side is at most ``max_side``; truncated data is refused (Pillow's ``LOAD_TRUNCATED_IMAGES``
   is ignored for PNGs without ``IEND`` and must stay off for JPEG, its default);
6. EXIF orientation applied, conversion to RGB, returned as a C-contiguous ``uint8`` array of
   shape ``(height, width, 3)``.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from webapp.i18n import N_

MAX_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 4_000_000
MAX_SIDE = 1000

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"IEND\xaeB`\x82"
_OTHER_IMAGE_MAGIC = (
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x01\x00",  # ICO
)

PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")  # reference photos (registry imports meet WebP)
FRAME_FORMATS = ("JPEG",)  # camera frames: the page sends JPEG

MESSAGES = {
    "not_image": N_("无法识别该文件，请上传 JPEG、PNG 或 WebP 格式的照片"),
    "unsupported_format": N_("仅支持 JPEG、PNG 或 WebP 格式的照片"),
    "too_large": N_("图片文件太大"),
    "too_many_pixels": N_("图片尺寸太大"),
    "truncated": N_("图片不完整（文件被截断），请重新拍摄或上传"),
    "corrupt": N_("图片已损坏，无法读取，请重新拍摄或上传"),
}

# EXIF orientation → the transpose that makes the picture upright (as PIL.ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class FaceInputError(Exception):
    """An input the face pipeline cannot use. ``code`` is stable, ``message`` is for the user (Chinese).

    ``index`` tells which of several inputs it was about, when a call takes more than one.
    """

    index: int | None = None

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, N_("图片无法使用"))
        super().__init__(code, self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def sniff_format(data: bytes) -> str | None:
    """``"JPEG"``, ``"PNG"``, ``"WEBP"``, ``"other"`` (a recognised but unsupported image) or ``None``."""
    if data.startswith(_JPEG_MAGIC):
        return "JPEG"
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith(_OTHER_IMAGE_MAGIC):
        return "other"
    if data[4:8] == b"ftyp":  # HEIC / AVIF
        return "other"
    return None


def _failure(error: BaseException) -> FaceInputError:
    text = str(error).lower()
    code = "truncated" if ("truncat" in text or isinstance(error, EOFError)) else "corrupt"
    return FaceInputError(code)


def decode_image(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_side: int = MAX_SIDE,
    formats: tuple[str, ...] = PHOTO_FORMATS,
) -> NDArray[np.uint8]:
    """Decode untrusted image bytes (of ``formats``) into an upright RGB ``uint8`` array (H, W, 3).

    Raises :class:`FaceInputError` with code ``not_image``, ``unsupported_format``, ``too_large``,
    ``too_many_pixels``, ``truncated`` or ``corrupt``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("decode_image expects bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise FaceInputError("too_large", f"图片文件太大（不能超过 {max_bytes / (1024 * 1024):g} MB）")
    kind = sniff_format(data)
    if kind is None:
        raise FaceInputError("not_image")
    if kind == "other" or kind not in formats:
        raise FaceInputError("unsupported_format")
    if kind == "PNG" and data.rfind(_PNG_IEND) == -1:
        raise FaceInputError("truncated")

    try:
        image = Image.open(io.BytesIO(data), formats=list(formats))
    except Image.DecompressionBombError as error:
        raise FaceInputError("too_many_pixels") from error
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as error:
        raise _failure(error) from error

    with image:
        detected = "JPEG" if image.format in {"JPEG", "MPO"} else image.format
        if detected != kind:
            raise FaceInputError("corrupt")
        width, height = image.size
        if width <= 0 or height <= 0:
            raise FaceInputError("corrupt")
        if width * height > max_pixels:
            raise FaceInputError("too_many_pixels")
        try:
            orientation = image.getexif().get(0x0112)
        except Exception:  # a broken EXIF block only loses the orientation
            orientation = None
        try:
            if max(width, height) > max_side:
                # For JPEG this decodes at 1/2, 1/4 or 1/8 scale first (DCT scaling), then resamples.
                image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
            else:
                image.load()
            transpose = _ORIENTATION.get(orientation) if isinstance(orientation, int) else None
            result = image.transpose(transpose) if transpose is not None else image
            if result.mode == "I" or result.mode.startswith("I;16"):  # 16-bit grey PNG
                result = result.convert("I").point(lambda v: v * (1 / 256)).convert("L")
            if result.mode != "RGB":
                if "A" in result.mode or "transparency" in result.info:
                    rgba = result.convert("RGBA")
                    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    result = Image.alpha_composite(background, rgba)
                result = result.convert("RGB")
            array = np.asarray(result, dtype=np.uint8)
        except Image.DecompressionBombError as error:
            raise FaceInputError("too_many_pixels") from error
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as error:
            raise _failure(error) from error
    if array.ndim != 3 or array.shape[2] != 3:
        raise FaceInputError("corrupt")
    return np.ascontiguousarray(array)
