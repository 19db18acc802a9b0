"""The demo company: a deterministic Bitrix24 portal of an entrance-cleaning business in Kaluga.

`build_demo_store` fills a `PortalStore` with what the company's portal would hold, in the
exact output shapes of the REST methods, dated around ``today``:

- departments: the company root, «Офис» (with a headless «Склад» under it) and «Бригада 1» …
  «Бригада 6», each brigade headed by its Бригадир;
- 82 active people, 4 fired users, and (default layout) one service user per brigade;
- 24 management companies, 490 active houses, 12 closed houses and 10 sales deals;
- address, apartments, entrances, floors and the cleaning schedule (date/type pairs for last,
  this and next month) in ``UF_CRM_*`` fields, plus a few fields the bot has no use for;
- 66 tasks and about two dozen company-calendar events around today.

`DemoLayout` varies what differs between real portals (pipeline, field codes and labels, the
brigade link); `build_demo` also returns `DemoTruth`, the ground truth tests may compare with.

Example::

    store = build_demo_store(date(2026, 11, 5))
    company = build_demo(date(2026, 11, 5), layout=DemoLayout.alternative())
    company.truth.periodicity[deal_id]["2026-11"]  # Periodicity.TWICE, ...
"""

from bitrix.demo.builder import DemoCompany, DemoTruth, build_demo, build_demo_store
from bitrix.demo.dates import YearMonth
from bitrix.demo.layout import BrigadeSource, DemoLayout, schedule_role
from bitrix.demo.schedule import CleaningType, MonthPlan, Periodicity, summarize

__all__ = [
    "BrigadeSource",
    "CleaningType",
    "DemoCompany",
    "DemoLayout",
    "DemoTruth",
    "MonthPlan",
    "Periodicity",
    "YearMonth",
    "build_demo",
    "build_demo_store",
    "schedule_role",
    "summarize",
]
