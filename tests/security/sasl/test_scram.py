import base64
import hashlib
import hmac

import pytest
from kafka.net.sasl.scram import ScramClient

from kwire.security.credentials import ScramCredential
from kwire.security.sasl import AuthenticationFailed, new_server, scram
from tests.security.sasl.helpers import PASSWORDS, SALT, credentials, settings

MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-512"]
GENERIC = "Authentication failed during authentication due to invalid credentials with SASL mechanism {}"


def run_kafka_python_client(server, user, password, mechanism):
    """kafka-python's own SCRAM client against the server; returns the client after the exchange."""
    client = ScramClient(user, password, mechanism)
    client.process_server_first_message(server.respond(client.first_message()))
    client.process_server_final_message(server.respond(client.final_message()))
    return client


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kafka_python_client_authenticates(mechanism):
    server = new_server(mechanism, settings())
    run_kafka_python_client(server, "alice", "alice-secret", mechanism)  # raises if the server signature is wrong
    assert server.complete
    assert server.principal == "User:alice"
    assert server.session_lifetime_ms is None


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_wrong_password_and_unknown_user_fail_alike(mechanism):
    answers = []
    for user, password in (("alice", "wrong"), ("nobody", "wrong")):
        server = new_server(mechanism, settings())
        client = ScramClient(user, password, mechanism)
        server_first = server.respond(client.first_message())
        assert server_first.startswith(b"r=")  # an unknown user still gets a challenge
        client.process_server_first_message(server_first)
        with pytest.raises(AuthenticationFailed) as failure:
            server.respond(client.final_message())
        answers.append(str(failure.value))
        assert not server.complete
    assert answers == [GENERIC.format(mechanism)] * 2


def test_unknown_user_gets_a_stable_salt():
    firsts = [new_server("SCRAM-SHA-256", settings()).respond(b"n,,n=nobody,r=abc") for _ in range(2)]
    salts = [dict(item.split(b"=", 1) for item in first.split(b","))[b"s"] for first in firsts]
    assert salts[0] == salts[1]


def test_rfc7677_example_exchange(monkeypatch):
    # RFC 7677 section 3: user "user", password "pencil".
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    store = {("user", "SCRAM-SHA-256"): ScramCredential.from_password("SCRAM-SHA-256", "pencil", salt, 4096)}
    monkeypatch.setattr(scram, "new_server_nonce", lambda: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
    server = new_server("SCRAM-SHA-256", settings(store=store))
    assert server.respond(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO") == (
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    final = (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    assert server.respond(final) == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    assert server.principal == "User:user"


class HandClient:
    """A SCRAM client written out here, to send what real clients never do."""

    def __init__(self, mechanism, user, password, gs2=b"n,,", extensions=b""):
        self.mechanism, self.password = mechanism, password
        self.hash = scram.SCRAM_HASHES[mechanism]
        name = user.replace("=", "=3D").replace(",", "=2C").encode()
        self.gs2 = gs2
        self.bare = b"n=" + name + b",r=clientnonce" + extensions

    def first(self):
        return self.gs2 + self.bare

    def final(self, server_first, binding=None, nonce=None, proof_change=None):
        fields = dict(item.split(b"=", 1) for item in server_first.split(b","))
        salted = hashlib.pbkdf2_hmac(
            self.hash, self.password.encode(), base64.b64decode(fields[b"s"]), int(fields[b"i"])
        )
        without_proof = (
            b"c=" + base64.b64encode(self.gs2 if binding is None else binding) + b",r=" + (nonce or fields[b"r"])
        )
        auth_message = self.bare + b"," + server_first + b"," + without_proof
        client_key = hmac.digest(salted, b"Client Key", self.hash)
        signature = hmac.digest(hashlib.new(self.hash, client_key).digest(), auth_message, self.hash)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        if proof_change:
            proof = proof_change(proof)
        self.server_signature = hmac.digest(hmac.digest(salted, b"Server Key", self.hash), auth_message, self.hash)
        return without_proof + b",p=" + base64.b64encode(proof)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_escaped_name_and_authzid_and_extensions(mechanism):
    client = HandClient(mechanism, "b,o=b", "bob-secret", gs2=b"n,a=b=2Co=3Db,", extensions=b",tokenauth=false")
    server = new_server(mechanism, settings())
    server_final = server.respond(client.final(server.respond(client.first())))
    assert server_final == b"v=" + base64.b64encode(client.server_signature)
    assert server.principal == "User:b,o=b"


def test_authzid_other_than_user_is_refused_with_kafkas_message():
    client = HandClient("SCRAM-SHA-256", "alice", "alice-secret", gs2=b"n,a=admin,")
    with pytest.raises(AuthenticationFailed) as failure:
        new_server("SCRAM-SHA-256", settings()).respond(client.first())
    assert str(failure.value) == (
        "Authentication failed: Client requested an authorization id that is different from username"
    )


@pytest.mark.parametrize(
    "first",
    [
        b"y,,n=alice,r=abc",  # client supports channel binding, thinks server does not
        b"p=tls-unique,,n=alice,r=abc",  # channel binding requested
        b"n,,n=alice,r=abc,tokenauth=true",  # delegation token: kwire has none
        b"n,,n=alice,r=abc,tokenauth=TRUE",
        b"n,,m=ext,n=alice,r=abc",  # reserved mandatory extension
        b"n,,n=al=ice,r=abc",  # "=" not escaped
        b"n,,n=,r=abc",
        b"n,,n=alice,r=",
        b"n,,n=alice",
        b"n,,n=j\xc3\xb6rg,r=abc",  # Kafka's SCRAM names are ASCII
        b"",
    ],
)
def test_bad_client_first_messages_fail_generically(first):
    with pytest.raises(AuthenticationFailed) as failure:
        new_server("SCRAM-SHA-256", settings()).respond(first)
    assert str(failure.value) == GENERIC.format("SCRAM-SHA-256")


def test_a_final_nonce_ending_with_the_servers_is_accepted_as_kafka_does():
    """librdkafka 2.0.x (kcat 1.7) repeats its own nonce in front of the full one."""
    client = HandClient("SCRAM-SHA-256", "alice", "alice-secret")
    server = new_server("SCRAM-SHA-256", settings())
    server_first = server.respond(client.first())
    full = dict(item.split(b"=", 1) for item in server_first.split(b","))[b"r"]
    server_final = server.respond(client.final(server_first, nonce=b"clientnonce" + full))
    assert server_final == b"v=" + base64.b64encode(client.server_signature)
    assert server.complete


def flip_first_bit(proof):
    return bytes([proof[0] ^ 1]) + proof[1:]


@pytest.mark.parametrize(
    "tamper",
    [
        {"binding": b"y,,"},  # channel binding data must repeat the gs2 header
        {"binding": b"n,a=alice,"},
        {"nonce": b"clientnonce"},  # server's part missing
        {"nonce": b"othernonce-entirely"},
        {"proof_change": flip_first_bit},  # forged proof
        {"proof_change": lambda proof: proof[:-1]},  # wrong length
        {"proof_change": lambda proof: b""},
    ],
)
def test_tampered_client_final_fails_generically(tamper):
    client = HandClient("SCRAM-SHA-256", "alice", "alice-secret")
    server = new_server("SCRAM-SHA-256", settings())
    final = client.final(server.respond(client.first()), **tamper)
    with pytest.raises(AuthenticationFailed) as failure:
        server.respond(final)
    assert str(failure.value) == GENERIC.format("SCRAM-SHA-256")
    assert not server.complete


@pytest.mark.parametrize(
    "final",
    [b"", b"c=biws", b"c=biws,r=x", b"c=!!!!,r=x,p=AAAA", b"c=biws,r=x,p=A", b"p=AAAA,c=biws,r=x"],
)
def test_malformed_client_final_fails_generically(final):
    server = new_server("SCRAM-SHA-256", settings())
    server.respond(b"n,,n=alice,r=abc")
    with pytest.raises(AuthenticationFailed) as failure:
        server.respond(final)
    assert str(failure.value) == GENERIC.format("SCRAM-SHA-256")


def test_credential_of_the_other_mechanism_does_not_serve():
    store = {key: value for key, value in credentials().items() if key[1] == "SCRAM-SHA-512"}
    server = new_server("SCRAM-SHA-256", settings(store=store))
    client = ScramClient("alice", "alice-secret", "SCRAM-SHA-256")
    client.process_server_first_message(server.respond(client.first_message()))
    with pytest.raises(AuthenticationFailed):
        server.respond(client.final_message())


def test_credential_below_kafkas_minimum_iterations_is_refused():
    store = {("alice", "SCRAM-SHA-256"): ScramCredential.from_password("SCRAM-SHA-256", "alice-secret", SALT, 1000)}
    server = new_server("SCRAM-SHA-256", settings(store=store))
    client = ScramClient("alice", PASSWORDS["alice"], "SCRAM-SHA-256")
    client.process_server_first_message(server.respond(client.first_message()))
    with pytest.raises(AuthenticationFailed):
        server.respond(client.final_message())


def test_no_step_after_success_or_failure():
    server = new_server("SCRAM-SHA-512", settings())
    client = run_kafka_python_client(server, "alice", "alice-secret", "SCRAM-SHA-512")
    with pytest.raises(AuthenticationFailed):
        server.respond(client.final_message())
    failed = new_server("SCRAM-SHA-512", settings())
    with pytest.raises(AuthenticationFailed):
        failed.respond(b"garbage")
    with pytest.raises(AuthenticationFailed):
        failed.respond(ScramClient("alice", "alice-secret", "SCRAM-SHA-512").first_message())


def test_a_failing_credential_store_fails_the_exchange_generically(caplog):
    def broken_lookup(user, mechanism):
        raise OSError("store unavailable")

    server = new_server("SCRAM-SHA-256", settings())
    server._lookup = broken_lookup
    with pytest.raises(AuthenticationFailed) as failure:
        server.respond(b"n,,n=alice,r=abc")
    assert str(failure.value) == GENERIC.format("SCRAM-SHA-256")
    assert "store unavailable" in failure.value.detail
    assert any(record.levelname == "ERROR" for record in caplog.records)
