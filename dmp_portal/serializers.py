"""Django's JSON serialisation with times kept to the microsecond, for backups
(dmp_portal/backup.py). Django's own encoder cuts them to the millisecond (as JavaScript
does), which would alter every access event's time and so break the trail's digests."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.serializers import json as django_json
from django.core.serializers.json import DjangoJSONEncoder


class ExactEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, (datetime.datetime, datetime.time)):
            return o.isoformat()
        return super().default(o)


class Serializer(django_json.Serializer):
    def start_serialization(self) -> None:
        super().start_serialization()
        self.json_kwargs["cls"] = ExactEncoder


Deserializer = django_json.Deserializer
