import pytest
from django.core.management import CommandError, call_command

from apps.datasets import selectors
from apps.datasets.models import Dataset, DatasetVersion, Sample
from apps.specs.texts import text_hash

pytestmark = pytest.mark.django_db


def test_fake_dataset_is_copied_in_versions_with_counts(owner):
    call_command("seedbed_fake_dataset", project=owner.project.slug, name="big", rows=901)
    dataset = Dataset.objects.get(project=owner.project, name="big")
    assert dataset.latest_version == 2
    assert list(
        DatasetVersion.objects.filter(dataset=dataset)
        .order_by("number")
        .values_list("added_count", flat=True)
    ) == [451, 450]
    assert Sample.objects.filter(dataset=dataset).count() == 901
    labels = dict(selectors.label_distribution(dataset))
    assert sum(labels.values()) == 901 and labels["billing"] > labels["refund"]
    # The rejected ones are counted as the reviews would count them.
    rejected = Sample.objects.filter(dataset=dataset, review_state="rejected")
    kept, left_out = selectors.label_distribution_kept(dataset)
    assert left_out == rejected.count() > 0
    assert sum(n for _, n in kept) == 901 - left_out
    sample = Sample.objects.filter(dataset=dataset).first()
    assert sample.text_hash == text_hash(sample.text)
    assert sample.payload == {"text": sample.text, "label": sample.labels[0]}
    # The generated tsvector column is filled, so search works on copied rows.
    assert Sample.objects.filter(dataset=dataset, search="order").exists()

    with pytest.raises(CommandError, match="already exists"):
        call_command("seedbed_fake_dataset", project=owner.project.slug, name="big", rows=1)


def test_admin_pages_load(owner, client, django_user_model):
    from tests.datasets.helpers import add_version, classification

    add_version(owner.project, "tickets", [classification(i) for i in range(3)])
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345-x")
    client.force_login(admin)
    sample = Sample.objects.first()
    for url in [
        "/admin/datasets/dataset/",
        "/admin/datasets/datasetversion/",
        "/admin/datasets/sample/",
        "/admin/datasets/sample/?review_state__exact=unreviewed",
        f"/admin/datasets/sample/{sample.pk}/change/",
        "/admin/datasets/exportjob/",
        f"/admin/datasets/dataset/{sample.dataset_id}/change/",
    ]:
        assert client.get(url).status_code == 200, url
