import factory
from django.contrib.auth import get_user_model

from apps.core import services
from apps.core.models import Membership, Project, Provider, ProviderKind, Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"provider-{n}")
    kind = ProviderKind.OPENAI
    base_url = "https://api.example.com/v1"
    default_model = "gpt-test"


def api_key_for(membership: Membership) -> str:
    _, raw = services.api_key_create(membership=membership, name="test")
    return raw
