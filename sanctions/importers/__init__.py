"""Importers of official sanctions lists, one module per file format.

`ofac_csv`, `ofac_xml` and `un_xml` read a file into `lists.Entry` records; `lists` stores
them as an ImportRun, compares the run with the list's previous one and proposes actions.
`ftm` imports FollowTheMoney entities. `python manage.py import_list FORMAT FILE...` runs
any of them.
"""
