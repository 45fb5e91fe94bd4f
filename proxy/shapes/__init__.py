"""Body shapes that carry images as text: base64 or data URLs in JSON, forms and raw text."""

from proxy.shapes.forms import find_form_images
from proxy.shapes.jsonbody import find_json_images, looks_like_json
from proxy.shapes.textimage import TextImage, decode_text_image, encode_text_image
from proxy.shapes.types import EmbeddedImage, splice

__all__ = [
    "EmbeddedImage",
    "TextImage",
    "decode_text_image",
    "encode_text_image",
    "find_form_images",
    "find_json_images",
    "looks_like_json",
    "splice",
]
