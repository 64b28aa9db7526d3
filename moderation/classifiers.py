"""The third layer of automatic checks: a machine-learning text classifier.

Only the interface exists. No classifier is registered, on purpose: until a real offline
model is chosen (and evaluated on Egyptian Arabic and Arabizi), `text_check` runs the
rules and heuristics only. A model package registers itself at start-up:

    from moderation import classifiers
    classifiers.register(MyOnnxToxicityClassifier(path=...))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class Classification:
    """What a classifier concluded: `action` is what it recommends; `label` and `score`
    (0..1) say why (e.g. "hate", 0.93)."""

    action: Literal["allow", "hold", "reject"]
    label: str
    score: float


@runtime_checkable
class TextClassifier(Protocol):
    name: str

    def classify(self, *, text: str, normalized: str, context: str) -> Classification:
        """Classify one text. Must be fast (called before every save) and must not raise
        for any input; a failure should return action "allow"."""
        ...


_registry: list[TextClassifier] = []


def register(classifier: TextClassifier) -> None:
    if not isinstance(classifier, TextClassifier):
        raise TypeError("A classifier needs a `name` and a `classify(*, text, normalized, context)` method.")
    _registry.append(classifier)


def unregister(classifier: TextClassifier) -> None:
    if classifier in _registry:
        _registry.remove(classifier)


def registered() -> tuple[TextClassifier, ...]:
    return tuple(_registry)
