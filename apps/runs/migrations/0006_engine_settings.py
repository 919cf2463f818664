from django.db import migrations, models

# The settings that were columns; they move into Run.settings (declared once by the engine).
MOVED = (
    "exploration_mode",
    "batch_size",
    "num_shots",
    "max_examples_in_prompt",
    "seed_shuffling",
    "balance_labels",
    "concurrency",
    "random_seed",
)


def columns_to_settings(apps, schema_editor):
    Run = apps.get_model("runs", "Run")
    for run in Run.objects.only("pk", *MOVED).iterator(chunk_size=500):
        values = {name: getattr(run, name) for name in MOVED}
        Run.objects.filter(pk=run.pk).update(settings=values)


def settings_to_columns(apps, schema_editor):
    Run = apps.get_model("runs", "Run")
    for run in Run.objects.only("pk", "settings").iterator(chunk_size=500):
        values = {k: v for k, v in run.settings.items() if k in MOVED}
        Run.objects.filter(pk=run.pk).update(**values)


class Migration(migrations.Migration):
    dependencies = [("runs", "0005_run_wait_until")]

    operations = [
        migrations.AddField(model_name="run", name="settings", field=models.JSONField(default=dict)),
        migrations.AddField(model_name="run", name="state", field=models.JSONField(default=dict)),
        migrations.AddField(
            model_name="run", name="usage_by_stage", field=models.JSONField(default=dict)
        ),
        migrations.RunPython(columns_to_settings, settings_to_columns),
        *[migrations.RemoveField(model_name="run", name=name) for name in MOVED],
        migrations.RenameField(model_name="run", old_name="chunks_done", new_name="steps_done"),
    ]
