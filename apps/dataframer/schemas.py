"""The Dataframer API's answers as OpenAPI documents them (`/api/schema/`); the views
build them in presenters.py, pydataframer reads them."""

from rest_framework import serializers

from .models import DatasetType

TAG = "dataframer-compatible"


def _text(**kwargs: object) -> serializers.CharField:
    return serializers.CharField(allow_null=True, **kwargs)  # type: ignore[arg-type]


class SeedFileOut(serializers.Serializer):
    id = serializers.CharField()
    file_type = serializers.CharField()
    path = serializers.CharField()
    size_bytes = serializers.IntegerField()


class SeedDatasetListItemOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    dataset_type = serializers.ChoiceField(choices=DatasetType.choices)
    file_count = serializers.IntegerField()
    folder_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    created_by_email = _text()


class SeedDatasetOut(SeedDatasetListItemOut):
    sample_count = serializers.IntegerField(allow_null=True, help_text="SINGLE_FILE rows.")
    files = SeedFileOut(many=True)


class SeedDatasetFilesIn(serializers.Serializer):
    name = serializers.CharField()
    dataset_type = serializers.ChoiceField(choices=DatasetType.choices)
    files = serializers.ListField(child=serializers.FileField())
    folder_names = serializers.ListField(child=serializers.CharField(), required=False)
    description = serializers.CharField(required=False)


class SeedDatasetZipIn(serializers.Serializer):
    name = serializers.CharField()
    zip_file = serializers.FileField()
    description = serializers.CharField(required=False)


class DownloadOut(serializers.Serializer):
    download_url = serializers.URLField(help_text="Signed; works without the key for 1 h.")
    filename = serializers.CharField()
    content_type = serializers.CharField()


# Dataframer's statuses (named in settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
SPEC_STATUSES = ["PROCESSING", "SUCCEEDED", "FAILED"]
RUN_STATUSES = ["PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELED"]


class SpecListItemOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=SPEC_STATUSES)
    created_at = serializers.DateTimeField()
    dataset_id = _text()
    dataset_name = _text()
    dataset_type = serializers.ChoiceField(choices=DatasetType.choices)


class SpecVersionOut(serializers.Serializer):
    content_yaml = serializers.CharField()
    created_at = serializers.DateTimeField()


class SpecOut(SpecListItemOut):
    error = _text()
    content_yaml = _text()
    runtime_params = serializers.JSONField()
    updated_at = serializers.DateTimeField()
    created_by_email = _text()
    seedbed_spec_id = serializers.IntegerField(allow_null=True)
    versions = SpecVersionOut(many=True, required=False)


class RunListItemOut(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=RUN_STATUSES)
    spec_id = serializers.CharField()
    spec_name = serializers.CharField()
    spec_version = serializers.IntegerField()
    dataset_id = _text()
    dataset_name = _text()
    dataset_type = serializers.ChoiceField(choices=DatasetType.choices)
    samples_completed = serializers.IntegerField()
    samples_failed = serializers.IntegerField()
    total_cost = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()
    created_by_email = _text()
    completed_at = serializers.DateTimeField(allow_null=True)


class GeneratedFileOut(serializers.Serializer):
    id = serializers.CharField()
    path = serializers.CharField()
    file_type = serializers.CharField()
    size_bytes = serializers.IntegerField()


class RunOut(RunListItemOut):
    runtime_params = serializers.JSONField()
    generated_files = GeneratedFileOut(many=True)
    error = _text()
    seedbed_run_id = serializers.IntegerField()


class ArchiveOut(serializers.Serializer):
    status = serializers.CharField(required=False, help_text="PREPARING while 202.")
    download_url = serializers.URLField(allow_null=True)
    size_bytes = serializers.IntegerField(allow_null=True)
