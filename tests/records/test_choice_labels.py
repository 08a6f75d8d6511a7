"""get_FOO_display through ChoiceLabels (records/choices.py): Django's answer, cheaper."""

from __future__ import annotations

from django.utils import translation

from records.models import AccessAction, AccessEvent, AccessMode


def test_the_label_in_the_readers_language_and_the_raw_value_when_not_a_choice() -> None:
    event = AccessEvent(action=AccessAction.HISTORY_VIEW, mode=AccessMode.EMERGENCY)
    with translation.override("fr"):
        assert event.get_action_display() == "Consultation de l'historique des accès"
        assert event.get_mode_display() == "Bris de glace"
    with translation.override("en"):
        # Labels stay lazy in the map built once: each call translates in the active language.
        assert event.get_action_display() == "Access history viewed"
        assert event.get_mode_display() != "Bris de glace"
    event.action = "not_a_choice"
    assert event.get_action_display() == "not_a_choice"


def test_same_answers_as_django_for_every_choice() -> None:
    from django.db import models

    field = AccessEvent._meta.get_field("action")
    for value, _label in field.flatchoices:
        event = AccessEvent(action=value)
        for language in ("fr", "en"):
            with translation.override(language):
                assert event.get_action_display() == models.Model._get_FIELD_display(event, field)
