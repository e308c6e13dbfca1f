import hashlib

from django.contrib.auth.hashers import Argon2PasswordHasher, BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare


class OwaspArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id at OWASP's parameters: m = 19 MiB, t = 2, p = 1.

    Django's own defaults (100 MiB, p = 8) allow only a handful of hashes a second on a
    small machine; these keep the cost OWASP recommends and a usable throughput. Hashes made
    with other parameters or hashers are upgraded on the next successful log-in.
    """

    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1


class ClientSecretHasher(BasePasswordHasher):
    """OpenID Connect client secrets (``admit.sso.oidc``): SHA-256 of the salted secret.

    A client secret is 128 random characters made by admit, not a password a person chose:
    nothing can be guessed from a fast hash of it, and a slow one would cap the token and
    introspection endpoints at the hashes a core can do (about a hundred a second). Listed in
    PASSWORD_HASHERS after Argon2 so that django-oauth-toolkit can name it
    (``CLIENT_SECRET_HASHER``); no user password is ever hashed with it (make_password takes
    the first hasher), and ``admit.sso.models.User.check_password`` refuses such a hash.
    """

    algorithm = "admit_client_secret_sha256"

    def encode(self, password: str, salt: str) -> str:
        if password is None or not salt or "$" in salt:
            raise ValueError("a client secret and a salt without '$' are needed")
        hashed = hashlib.sha256((salt + password).encode()).hexdigest()
        return f"{self.algorithm}${salt}${hashed}"

    def decode(self, encoded: str) -> dict:
        algorithm, salt, hashed = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": hashed, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {"algorithm": decoded["algorithm"], "salt": mask_hash(decoded["salt"], 2)}

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass
