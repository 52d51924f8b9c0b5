"""Turning an uploaded photo into the two JPEGs intake keeps: the photo, scaled to fit
``max_edge``, and its thumbnail. Pure and synchronous (Pillow): the router runs it in a worker
thread.

What a phone sends is not shown as sent. The picture is decoded (a file that only claims to be
an image is refused), its colours taken into sRGB from the profile it carries (an iPhone's
Display P3), turned upright by its EXIF orientation, laid on white where it was
transparent, scaled down and encoded again as JPEG, with none of the original's metadata: no
GPS position, no camera serial number, no embedded thumbnail that still shows what was cropped.
The report carries its own location.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "WEBP")
"""What Pillow may open: a phone's camera, a screenshot, a browser's canvas."""
THUMBNAIL_EDGE = 320
"""The thumbnail's longer side, for lists and a timeline's row."""
PHOTO_QUALITY = 85
THUMBNAIL_QUALITY = 80
MAX_SCANS = 100
"""The most scans a JPEG may have: a camera's progressive one has about ten. Each scan is a
pass over the whole picture, and one of 15 bytes that refines nothing is still one: 10 MiB of
them kept a worker busy for minutes (libjpeg sets no bound; Pillow offers none)."""
MAX_MARKERS = 1_000
"""The most markers a JPEG may have outside its scans' data, fill bytes counted: a camera's has
twenty to forty (EXIF, XMP, its colour profile, the tables, the frame, a table per scan). Pillow
reads those before the frame one at a time in Python, the interpreter lock held (10 MiB of empty
ones took a worker 3.4 s, and were taken), and counting the scans stepped through all of them."""
MAX_CHUNKS = 100_000
"""The most chunks a PNG may have: an encoder writes the pixels in chunks of 8 to 64 KiB, about
1,300 for 10 MiB. Pillow reads them one at a time in Python: 10 MiB of empty ones took 2.9 s."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class NotAPhoto(ValueError):
    """The bytes are no photo intake takes; the message says why, for a 422."""


@dataclass(frozen=True)
class Processed:
    content: bytes
    thumbnail: bytes
    width: int
    height: int


def process(data: bytes, *, max_edge: int, max_pixels: int) -> Processed:
    """The photo in ``data`` (JPEG, PNG or WebP) as a JPEG of at most ``max_edge`` pixels on
    its longer side and a thumbnail; :class:`NotAPhoto` for anything else, for a picture of
    more than ``max_pixels`` (checked from its header, before anything is decoded) and for a
    damaged file."""
    if data[:2] == b"\xff\xd8":  # a JPEG's markers are counted before Pillow reads any
        scans, markers = _markers(data)
        if markers > MAX_MARKERS:
            raise NotAPhoto(
                f"the JPEG has more than {MAX_MARKERS:,} markers; at most {MAX_MARKERS:,} are taken"
            )
        if scans > MAX_SCANS:
            raise NotAPhoto(f"the JPEG has more than {MAX_SCANS} scans; at most {MAX_SCANS} are taken")
    elif data.startswith(PNG_SIGNATURE) and _chunks(data) > MAX_CHUNKS:
        raise NotAPhoto(f"the PNG has more than {MAX_CHUNKS:,} chunks; at most {MAX_CHUNKS:,} are taken")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns below twice its limit and raises above it; ours is
            # max_pixels, checked from the header, so its warning says nothing here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise NotAPhoto(
                        f"the photo has {width} × {height} pixels; at most {max_pixels:,} are taken"
                    )
                # A JPEG decodes at 1/2, 1/4 or 1/8 scale when that still covers max_edge: less
                # memory and time for a 48-megapixel camera's picture.
                image.draft("RGB", _covering(width, height, max_edge))
                image.load()
                orientation = image.getexif().get(ExifTags.Base.Orientation)
                profile = image.info.get("icc_profile")
                picture = _scalable(image)
                # Scaled before it is turned and laid on white, which copy it: those copies are
                # of the photo kept, not of the camera's picture (a 48-megapixel PNG with
                # transparency took 600 MB at its peak). Bicubic: Lanczos took a third more,
                # to no eye's gain.
                picture.thumbnail((max_edge, max_edge))
                picture = _flattened(_upright(_in_srgb(picture, profile), orientation))
    except NotAPhoto:
        raise
    except UnidentifiedImageError:
        raise NotAPhoto("the body is not a JPEG, PNG or WebP image") from None
    except Image.DecompressionBombError:
        raise NotAPhoto(f"the photo has more than {max_pixels:,} pixels") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt data
        raise NotAPhoto(f"the image cannot be decoded: {error}") from None
    content = _jpeg(picture, PHOTO_QUALITY)
    thumbnail = picture.copy()
    thumbnail.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    return Processed(content, _jpeg(thumbnail, THUMBNAIL_QUALITY), picture.width, picture.height)


def _markers(jpeg: bytes) -> tuple[int, int]:
    """How many scans (SOS segments) the JPEG's first picture has, and how many markers outside
    its scans' data (fill bytes too); the walk stops once either is past its bound (MAX_SCANS,
    MAX_MARKERS). Entropy-coded data holds no 0xFF but before 0x00 (stuffing) or a restart
    marker, so a scan's data ends at the first 0xFF followed by anything else."""
    scans, markers, at = 0, 0, 2  # after SOI
    while at + 1 < len(jpeg) and scans <= MAX_SCANS and markers <= MAX_MARKERS:
        if jpeg[at] != 0xFF:
            break  # not a marker: damaged, the decoder will say so
        marker = jpeg[at + 1]
        if marker == 0xD9:  # EOI: an MPO's other pictures are not decoded
            break
        markers += 1
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # fill, RSTn, TEM
            at += 1 if marker == 0xFF else 2
            continue
        at += 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")
        if marker == 0xDA:
            scans += 1
            end = _SCAN_END.search(jpeg, at)
            if end is None:
                break
            at = end.start()
    return scans, markers


_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")
"""Where a scan's entropy-coded data ends. Searched for, not stepped through in Python: a scan of
10 MiB of stuffed bytes (``FF 00``) took 0.9 s to step through, the interpreter lock held."""


def _chunks(png: bytes) -> int:
    """How many chunks the PNG has, up to its IEND; the count stops at MAX_CHUNKS + 1."""
    count, at = 0, len(PNG_SIGNATURE)
    while at + 8 <= len(png) and count <= MAX_CHUNKS:
        count += 1
        if png[at + 4 : at + 8] == b"IEND":
            break
        at += 12 + int.from_bytes(png[at : at + 4], "big")
    return count


def _covering(width: int, height: int, max_edge: int) -> tuple[int, int]:
    """The smallest size ``draft`` may decode to: the picture's shape, its longer side
    ``max_edge`` (or the picture as it is, when smaller)."""
    scale = min(1.0, max_edge / max(width, height, 1))
    return (max(1, round(width * scale)), max(1, round(height * scale)))


UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""What turns a picture upright, by its EXIF orientation (1, or none: it is already)."""


def _upright(image: Image.Image, orientation: object) -> Image.Image:
    """The picture turned as its EXIF (or XMP) orientation says. Not ``ImageOps.exif_transpose``:
    it writes the EXIF back without the tag, and a phone's odd entry (a GPS tag of another type
    than the standard's) made that write raise a TypeError, a 500; the metadata is dropped here
    anyway."""
    method = UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    return image if method is None else image.transpose(method)


def _scalable(image: Image.Image) -> Image.Image:
    """The picture in a mode Pillow scales smoothly: 16-bit grey as 8-bit (as RGB, every value
    over 255 was white), a palette's colours as RGB or RGBA and black-and-white as grey (Pillow
    scales both by the nearest pixel)."""
    if image.mode.startswith("I"):
        return image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "1":
        return image.convert("L")
    return image


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _in_srgb(image: Image.Image, profile: object) -> Image.Image:
    """The picture's colours in sRGB, from the colour profile it carries. The JPEG kept carries
    none (browsers then read sRGB): an iPhone's Display P3 picture, or a CMYK one, shown
    unconverted had its colours shifted. A profile that does not fit the picture, or that
    littleCMS cannot read, leaves it as it is."""
    if not isinstance(profile, bytes) or not profile or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if image.mode in ("RGB", "RGBA") and ImageCms.getProfileDescription(source).startswith("sRGB"):
            return image  # an Android camera's: 35 ms to convert a 3-megapixel picture to itself
        output = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, SRGB, outputMode=output)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    return converted if converted is not None else image


def _flattened(image: Image.Image) -> Image.Image:
    """RGB, with what was transparent on white (converting RGBA drops the alpha and leaves the
    hidden colour, black as often as not)."""
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image)
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # Optimized Huffman tables: 3 % smaller for 12 ms; progressive saved 3 % more for 30 ms more.
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()
