import pytest

from tests.factories import MembershipFactory, ProviderFactory
from tests.runs.factories import SpecVersionFactory


@pytest.fixture
def setup(fake_openai):
    membership = MembershipFactory()
    provider = ProviderFactory(
        project=membership.project, base_url=fake_openai.base_url, max_concurrency=16
    )
    version = SpecVersionFactory(spec__project=membership.project)
    return membership, provider, version
