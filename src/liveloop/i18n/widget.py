"""The viewer widget's texts: the table that GET /widget/liveloop.js carries, built from the catalogues.

The stream's messages come with their `text` (liveloop.i18n.stream); the widget's own words (its
button, the copy notice) and the texts it writes for a message that carries none are these.
"""

from __future__ import annotations

from liveloop.i18n import _ALIASES, LANGS, RTL, template

# Placeholders are filled in by the widget: {name} (a friend's name, or stream.friend_unknown), {rank},
# {reward} (a reward in the viewer's words), {current}, {target}, {entered}, {total}, {members}, {size}, {max}
# (numbers), {time} (a countdown the widget writes, such as 12:05), {title} (a flash deal's title).
WIDGET_MESSAGES = (
    "widget.invite",
    "widget.copied",
    "stream.friend_unknown",
    "stream.friend_clicked",
    "stream.friend_reserved",
    "stream.friend_joined",
    "stream.rank",
    "widget.draw_entered",
    "widget.draw_won",
    "widget.your_rank",
    "widget.not_ranked",
    "widget.next_reward",
    "widget.progress",
    "widget.rewards",
    "widget.pending",
    "widget.draws",
    "widget.share_with",
    "widget.copy_link",
    "widget.close",
    "widget.group_title",
    "widget.group_members",
    "widget.group_time_left",
    "widget.group_share",
    "widget.group_completed",
    "widget.group_failed",
    "widget.flash_title",
    "widget.flash_early",
    "widget.flash_starts",
    "widget.flash_ends",
    "widget.flash_news",
    "widget.ask_label",
    "widget.ask_send",
    "widget.ask_sent",
    "widget.ask_empty",
    "widget.ask_too_long",
    "widget.ask_failed",
)


def widget_texts() -> dict:
    """Every widget text in every language (English where a catalogue lacks one), the right-to-left
    languages, and the language aliases, as the widget reads them."""
    strings: dict[str, dict[str, str]] = {}
    for lang in LANGS:
        own = strings[lang] = {}
        for msgid in WIDGET_MESSAGES:
            text = template(lang, msgid)
            if not isinstance(text, str):
                raise TypeError(f"{msgid} is a plural message: the widget has no plural rules")
            own[msgid] = text
    return {"strings": strings, "rtl": sorted(RTL), "aliases": dict(sorted(_ALIASES.items()))}
