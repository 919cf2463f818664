# Labelling jobs join the one job lifecycle (apps/core/jobs.py): the abstract Job's
# fields they lacked, and the step checkpoint derived from the texts done so far.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inference", "0003_model_alias_plural"),
    ]

    operations = [
        migrations.AddField(
            model_name="labellingjob",
            name="steps_done",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="labellingjob",
            name="wait_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        # Each committed chunk of 50 texts (CHUNK_TEXTS) was one step: an unfinished job
        # resumes at the step after its last chunk (the reaper re-sends it).
        migrations.RunSQL(
            sql="UPDATE inference_labellingjob SET steps_done = (done + 49) / 50",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="labellingjob",
            index=models.Index(
                condition=models.Q(("status__in", ["QUEUED", "RUNNING"])),
                fields=["heartbeat_at"],
                name="labellingjob_unfinished",
            ),
        ),
    ]
