from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # The rate limits' counts live in the cache, shared by every web process: a table
    # of the database unless CACHE_URL names Redis (then this creates nothing).
    call_command("createcachetable", verbosity=0)


class Migration(migrations.Migration):

    dependencies = [
        ("sanctions", "0011_record_integrity"),
    ]

    operations = [
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
    ]
