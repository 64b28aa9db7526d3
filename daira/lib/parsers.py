"""The JSON body parser of every REST view (DEFAULT_PARSER_CLASSES). In its own module:
daira.lib.drf is imported while DRF reads its settings, and DRF's parsers import those
settings, so the two cannot share a module."""

from __future__ import annotations

import io
import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# --- request bodies --------------------------------------------------------------------------------
# JSON may escape lone UTF-16 surrogates ("\ud800"); Python decodes them into strings that
# cannot be encoded as UTF-8, so storing or echoing one failed as a 500. Only bodies that
# contain such an escape are walked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_unencodable_string(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_unencodable_string(k) or _has_unencodable_string(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unencodable_string(item) for item in value)
    return False


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, also refusing strings that are not valid Unicode (lone surrogate
    escapes) with a 400 parse error instead of failing later."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        if _SURROGATE_ESCAPE.search(raw) and _has_unencodable_string(data):
            raise ParseError("JSON parse error - strings must be valid Unicode (a lone surrogate escape was sent).")
        return data
