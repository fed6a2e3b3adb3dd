"""The wizard's prompt primitives, on InquirerPy (imported lazily: it costs ~190 ms).

Every prompt answers Esc by raising `Back` (one level up) and Ctrl+C by raising
KeyboardInterrupt, which the CLI turns into exit 130. Menus take arrow keys and the
number keys 1-9 (a number moves the pointer; Enter confirms, so a stray Enter never
lands on the next screen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

ESC_HINT = "Esc: back"


class Back(Exception):
    """Esc was pressed: return to the previous screen or step."""


@dataclass(frozen=True)
class Choice:
    value: Any
    label: str


def _keys() -> dict:
    # Esc skips (-> Back) instead of InquirerPy's default Ctrl+Z.
    return {"skip": [{"key": "escape"}]}


def _ask(prompt) -> Any:
    """Run a prompt; Esc raises Back, Ctrl+C raises KeyboardInterrupt."""
    result = prompt.execute()
    if prompt.status.get("skipped"):
        raise Back()
    return result


def choose(
    message: str, choices: Sequence[Choice], default: Any = None, numbered: bool = True, esc: str = ESC_HINT
) -> Any:
    """A menu: arrows or number keys move the pointer, Enter picks, Esc goes back."""
    from InquirerPy import inquirer

    # Values travel as indices: InquirerPy copies choice values (and turns dataclasses into dicts).
    items = [
        {"value": i, "name": f"{i + 1}) {c.label}" if numbered and i < 9 else c.label} for i, c in enumerate(choices)
    ]
    start = next((i for i, c in enumerate(choices) if default is not None and c.value == default), None)
    hint = f"↑/↓{' or 1-' + str(min(len(items), 9)) if numbered else ''}, Enter to choose, {esc}"
    prompt = inquirer.select(
        message=message,
        choices=items,
        default=start,
        instruction=hint,
        mandatory=False,
        keybindings=_keys(),
        show_cursor=False,
    )
    if numbered:
        for index in range(min(len(items), 9)):

            def jump(event, index=index) -> None:
                prompt.content_control.selected_choice_index = index

            prompt.register_kb(str(index + 1))(jump)
    return choices[_ask(prompt)].value


def confirm(message: str, default: bool = True) -> bool:
    """Y/n (or y/N); Enter takes the default."""
    from InquirerPy import inquirer

    return bool(_ask(inquirer.confirm(message=message, default=default, mandatory=False, keybindings=_keys())))


def text(
    message: str,
    default: str = "",
    validate: Callable[[str], bool] | None = None,
    invalid: str = "Invalid input",
    instruction: str = "",
) -> str:
    """A line of text, prefilled with `default`."""
    from InquirerPy import inquirer

    return str(
        _ask(
            inquirer.text(
                message=message,
                default=default,
                validate=validate,
                invalid_message=invalid,
                instruction=instruction,
                mandatory=False,
                keybindings=_keys(),
            )
        )
        or ""
    )


def secret(message: str, instruction: str = "input hidden") -> str:
    """Hidden input: only asterisks are drawn, and the answer is never echoed."""
    from InquirerPy import inquirer

    prompt = inquirer.secret(
        message=message, instruction=instruction, mandatory=False, keybindings=_keys(), transformer=lambda _: "[hidden]"
    )
    return str(_ask(prompt) or "")


def pick_or_type(message: str, options: Sequence[str], other_label: str, default: str | None = None) -> str:
    """Type-to-filter list with free entry: Enter picks the highlighted item, or, when the
    filter matches nothing (or `other_label` is chosen), takes what was typed. Text that is
    exactly an option wins over the highlight: the fuzzy filter runs behind the keyboard, so a
    pasted id and a quick Enter could otherwise pick whatever was highlighted before."""
    from InquirerPy import inquirer

    other = len(options)  # indices again: values are copied
    items = [{"value": i, "name": o} for i, o in enumerate([*options, other_label])]
    prompt = inquirer.fuzzy(
        message=message,
        choices=items,
        default="",
        mandatory=False,
        keybindings=_keys(),
        max_height="50%",
        border=False,
        instruction=f"type to filter, Enter to pick, {ESC_HINT}",
    )
    if default is not None and default in options:
        prompt.content_control.selected_choice_index = list(options).index(default)
    result = _ask(prompt)
    typed = prompt._get_current_text().strip()  # InquirerPy keeps no public accessor for it
    if typed in options:
        return typed
    if result == other:
        return text(other_label, default=typed, validate=lambda v: bool(v.strip()), invalid="type a name").strip()
    if result is None:
        if typed:
            return typed
        raise Back()
    return options[result]


def pause(message: str = "Press Enter to continue.") -> None:
    """Wait for Enter (Esc goes back)."""
    from InquirerPy import inquirer

    _ask(
        inquirer.text(
            message=message, qmark="", amark="", mandatory=False, keybindings=_keys(), transformer=lambda _: ""
        )
    )
