"""Messages that can be translated later: the English text plus the parameters to fill in."""

from __future__ import annotations


class Msg(str):
    """An English message (its str value) that keeps its template and parameters for translation."""

    template: str
    params: dict

    def __new__(cls, template: str, **params: object) -> "Msg":
        obj = super().__new__(cls, template.format(**params) if params else template)
        obj.template = template
        obj.params = params
        return obj

    def translate(self, gettext) -> str:  # noqa: ANN001
        """Render in another language with a gettext function."""
        text = gettext(self.template)
        return text.format(**self.params) if self.params else text


def translate(message: str, gettext) -> str:  # noqa: ANN001
    """Translate a Msg (or a plain English string) with gettext."""
    if isinstance(message, Msg):
        return message.translate(gettext)
    return gettext(message)
