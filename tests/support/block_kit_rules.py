"""The Block Kit rules the fake Slack enforces, each from Slack's documentation: a message whose blocks break one
is refused with `invalid_blocks`, as Slack refuses it, so a card that Slack would not post fails in tests too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Slack doc "Confirmation dialog object": each part is a plain_text text object, all four are required, and the
# text of each is capped; `style` is primary or danger.
CONFIRM_LIMITS = {"title": 100, "text": 300, "confirm": 30, "deny": 30}
CONFIRM_STYLES = ("primary", "danger")


def _confirms(blocks: Any) -> Iterator[tuple[str, Any]]:
    """Every `confirm` object on an interactive element, with a JSON pointer to it."""
    for b, block in enumerate(blocks if isinstance(blocks, list) else []):
        elements = block.get("elements", []) if isinstance(block, dict) else []
        accessory = block.get("accessory") if isinstance(block, dict) else None
        located = [(f"/blocks/{b}/elements/{e}", element) for e, element in enumerate(elements)]
        located += [(f"/blocks/{b}/accessory", accessory)] if accessory else []
        for pointer, element in located:
            if isinstance(element, dict) and "confirm" in element:
                yield f"{pointer}/confirm", element["confirm"]


def confirm_errors(blocks: Any) -> list[str]:
    """What Slack would say is wrong with the blocks' confirmation dialogs; empty when nothing is."""
    errors: list[str] = []
    for pointer, confirm in _confirms(blocks):
        if not isinstance(confirm, dict):
            errors.append(f"must be an object [json-pointer:{pointer}]")
            continue
        for part, most in CONFIRM_LIMITS.items():
            text = confirm.get(part)
            where = f"[json-pointer:{pointer}/{part}]"
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                errors.append(f"must be a plain_text text object {where}")
            elif not isinstance(text.get("text"), str) or not text["text"]:
                errors.append(f"must be a non-empty string [json-pointer:{pointer}/{part}/text]")
            elif len(text["text"]) > most:
                errors.append(f"must be less than {most + 1} characters [json-pointer:{pointer}/{part}/text]")
        if "style" in confirm and confirm["style"] not in CONFIRM_STYLES:
            errors.append(f"must be one of {', '.join(CONFIRM_STYLES)} [json-pointer:{pointer}/style]")
    return errors
