import pytest

from kwire.security.cert_maker import TestCertificates, make_test_certificates


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    """One CA, broker and clients "client" and "other" for the whole session (files are only read)."""
    return make_test_certificates(tmp_path_factory.mktemp("certs"), clients=("client", "other"))
