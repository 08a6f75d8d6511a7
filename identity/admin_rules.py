"""What every page of the portal's Django admin obeys: administrators supervise, they do not
browse. Shared by ``identity/admin.py`` and ``records/admin.py``; registers nothing."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.http import HttpRequest


class FixedLookupsMixin[M: models.Model](admin.ModelAdmin[M]):
    """Only the declared filters (``list_filter``, ``date_hierarchy``) may be used in the URL.

    Django's admin lets any *local* field be filtered from the query string, filters or not:
    ``?patient_insc=…``, ``?patient=…`` or ``?detail__contains=…`` on the trail, or
    ``?email__startswith=…`` on the accounts, would select one patient's rows without a reason
    and without a trace. Anything else answers 400.
    """

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        allowed = set()
        for item in self.get_list_filter(request):
            if isinstance(item, str):
                allowed.add(item)
            elif isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                allowed.add(str(item.parameter_name))  # its own parameter and queryset
        if self.date_hierarchy:
            allowed.add(self.date_hierarchy)
        if lookup.split("__")[0] not in allowed:
            return False
        return super().lookup_allowed(lookup, value, request)


class ReadOnlyAdmin[M: models.Model](FixedLookupsMixin[M]):
    """Seen, never added, changed or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False
