"""The Celery application; tasks live in sanctions/tasks.py."""

import os
from pathlib import Path

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# The filesystem broker (CELERY_BROKER_URL unset) keeps messages in folders under var/.
_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


@signals.celeryd_init.connect
@signals.before_task_publish.connect
def make_broker_folders(**kwargs):
    """Make the filesystem broker's folders when a worker starts or a task is sent, not
    when settings are imported."""
    options = app.conf.broker_transport_options or {}
    for key in _FOLDERS:
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)
