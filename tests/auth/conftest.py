from collections.abc import Iterator

import pytest

from tests.oidc import OidcProvider


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """The OpenID provider, started once; tests that rotate its keys leave it signing with a valid one."""
    provider = OidcProvider(tmp_path_factory.mktemp("oidc"))
    provider.start()
    yield provider
    provider.stop()
