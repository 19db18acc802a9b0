"""The REST methods the emulated portal serves, their scopes, and the system methods.

`METHODS` maps lower-case method names to `MethodSpec`s. Scopes: ``crm.*`` → ``crm``;
``user.get``/``user.current`` → any of ``user``, ``user_basic``, ``user_brief`` (the docs list
all three for both); ``department.get`` → ``department``; ``tasks.*`` → ``task``;
``calendar.*`` → ``calendar``; ``disk.*`` → ``disk``; ``scope``, ``app.info``, ``server.time``,
``profile`` and ``batch`` need only the basic scope every webhook has.
"""

from __future__ import annotations

from bitrix.portal import crm, disk, people, tasks, timeline
from bitrix.portal.batch import batch
from bitrix.portal.calls import CallContext, MethodOutput, MethodSpec, Params
from bitrix.portal.options import ALL_SCOPES
from bitrix.portal.query import iso, param, php_truthy


def scope(ctx: CallContext, params: Params) -> MethodOutput:
    """`scope`: the webhook's granted scopes; ``full=true`` lists every scope of the portal."""
    if php_truthy(param(params, "full")):
        return MethodOutput(list(ALL_SCOPES))
    return MethodOutput(sorted(ctx.options.scopes))


def app_info(ctx: CallContext, params: Params) -> MethodOutput:
    """`app.info` in its webhook variant: only ``SCOPE`` and ``LICENSE``."""
    return MethodOutput({"SCOPE": sorted(ctx.options.scopes), "LICENSE": ctx.store.license})


def server_time(ctx: CallContext, params: Params) -> MethodOutput:
    """`server.time`: the portal's clock as ISO 8601 with its offset."""
    return MethodOutput(iso(ctx.moment))


_CRM = frozenset({"crm"})
_DISK = frozenset({"disk"})


def _specs() -> dict[str, MethodSpec]:
    specs = [
        MethodSpec("crm.deal.list", crm.deal_list, _CRM),
        MethodSpec("crm.deal.get", crm.deal_get, _CRM),
        MethodSpec("crm.deal.fields", crm.deal_fields, _CRM),
        MethodSpec("crm.deal.userfield.list", crm.deal_userfield_list, _CRM),
        MethodSpec("crm.category.list", crm.category_list, _CRM),
        MethodSpec("crm.status.list", crm.status_list, _CRM),
        MethodSpec("crm.company.list", crm.company_list, _CRM),
        MethodSpec("crm.company.get", crm.company_get, _CRM),
        MethodSpec("crm.timeline.comment.add", timeline.comment_add, _CRM),
        MethodSpec("crm.timeline.comment.get", timeline.comment_get, _CRM),
        MethodSpec("crm.timeline.comment.list", timeline.comment_list, _CRM),
        MethodSpec("user.get", people.user_get, people.USER_SCOPES),
        MethodSpec("user.current", people.user_current, people.USER_SCOPES),
        # Writes need the full `user` scope (DOCS user.update: "Scope: user").
        MethodSpec("user.update", people.user_update, frozenset({"user"})),
        MethodSpec("profile", people.profile),
        MethodSpec("department.get", people.department_get, frozenset({"department"})),
        MethodSpec("tasks.task.list", tasks.task_list, frozenset({"task"})),
        MethodSpec("tasks.task.add", tasks.task_add, frozenset({"task"})),
        MethodSpec("calendar.event.get", tasks.event_get, frozenset({"calendar"})),
        MethodSpec("calendar.event.add", tasks.event_add, frozenset({"calendar"})),
        MethodSpec("disk.folder.uploadfile", disk.folder_uploadfile, _DISK),
        MethodSpec("disk.storage.uploadfile", disk.storage_uploadfile, _DISK),
        MethodSpec("disk.folder.getchildren", disk.folder_getchildren, _DISK),
        MethodSpec("disk.file.get", disk.file_get, _DISK),
        MethodSpec("scope", scope),
        MethodSpec("app.info", app_info),
        MethodSpec("server.time", server_time),
        MethodSpec("batch", batch, metered=False),
    ]
    return {spec.name: spec for spec in specs}


#: Every method of the emulated portal by lower-case name.
METHODS: dict[str, MethodSpec] = _specs()
