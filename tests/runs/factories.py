import factory

from apps.specs.models import Spec, SpecVersion, SpecVersionStatus, TaskType
from tests.factories import ProjectFactory

CLASS_LABELS = ["billing", "bug", "feature_request"]


class SpecFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Spec

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"spec-{n}")
    task_type = TaskType.CLASSIFICATION


class SpecVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpecVersion

    spec = factory.SubFactory(SpecFactory)
    number = 1
    description = "Support tickets of a SaaS company"
    labels = factory.LazyFunction(lambda: list(CLASS_LABELS))
    requirements = factory.LazyFunction(lambda: ["One or two sentences", "No personal data"])
    seeds = factory.LazyFunction(
        lambda: [
            {"text": "I was charged twice this month.", "label": "billing"},
            {"text": "The export button crashes the app.", "label": "bug"},
            {"text": "Please add dark mode.", "label": "feature_request"},
        ]
    )
    status = SpecVersionStatus.SUCCEEDED
