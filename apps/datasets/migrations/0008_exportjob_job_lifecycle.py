# Export jobs join the one job lifecycle (apps/core/jobs.py): the abstract Job's fields
# they lacked. Existing rows get a heartbeat of now, so the reaper resumes an unfinished
# export (its old task is gone) once that heartbeat is stale.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("datasets", "0007_sampleband"),
    ]

    operations = [
        migrations.AddField(
            model_name="exportjob",
            name="cancel_requested",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="steps_done",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="wait_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="exportjob",
            index=models.Index(
                condition=models.Q(("status__in", ["QUEUED", "RUNNING"])),
                fields=["heartbeat_at"],
                name="exportjob_unfinished",
            ),
        ),
    ]
