"""Redaction: known secret values and secret-named entries masked; credentials hidden in URLs."""

from bot.redaction import MASK, SecretMask, is_secret_name, redact_url, url_credentials


def test_a_known_secret_value_is_masked_wherever_it_appears_in_a_text() -> None:
    # given a mask for one secret value
    mask = SecretMask(["sk-live-0123"])
    # when a text quotes it twice
    text = mask("key sk-live-0123, again: Bearer sk-live-0123")
    # then both places are masked
    assert text == "key ***, again: Bearer ***"


def test_a_secret_containing_another_is_masked_whole() -> None:
    # given two secrets, one a prefix of the other
    mask = SecretMask(["abcd", "abcdefgh"])
    # when the longer one appears
    text = mask("token=abcdefgh")
    # then it is masked whole, leaving no tail of it behind
    assert text == "token=***"


def test_values_shorter_than_four_characters_are_not_masked() -> None:
    # given a "secret" too short to mask without hiding ordinary text
    mask = SecretMask(["on1"])
    # when a text contains it
    text = mask("turned on1 thing")
    # then the text is unchanged
    assert text == "turned on1 thing"


def test_a_text_without_secrets_is_returned_unchanged() -> None:
    assert SecretMask(["s3cr3t-value"])("nothing to hide") == "nothing to hide"


def test_a_mapping_entry_named_as_a_known_secret_is_masked_whole() -> None:
    # given a mask that knows the secret settings' names
    mask = SecretMask([], names=["ICE_API_SECRET"])
    # when a flattened mapping names one of them
    out = mask.mapping({"overrides.ICE_API_SECRET": "anything", "LOG_LEVEL": "DEBUG"})
    # then that entry is masked and the others kept
    assert out == {"overrides.ICE_API_SECRET": MASK, "LOG_LEVEL": "DEBUG"}


def test_a_mapping_entry_whose_name_looks_secret_is_masked_even_when_unknown() -> None:
    # given a mask that knows no names at all
    mask = SecretMask([])
    # when an entry's name contains a secret-looking word
    out = mask.mapping({"overrides.MY_PRIVATE_TOKEN": "abc", "k": "config"})
    # then its value is masked
    assert out == {"overrides.MY_PRIVATE_TOKEN": MASK, "k": "config"}


def test_a_known_secret_value_inside_a_mapping_value_is_masked() -> None:
    # given a mask for one secret value
    mask = SecretMask(["s3cr3t-value"])
    # when an ordinary entry quotes it
    out = mask.mapping({"note": "the token is s3cr3t-value"})
    # then only the quoted value is masked
    assert out == {"note": "the token is ***"}


def test_the_mask_never_shows_its_secrets_in_a_repr() -> None:
    assert "s3cr3t-value" not in repr(SecretMask(["s3cr3t-value"]))


def test_names_with_a_secret_looking_word_are_secret_whatever_their_case() -> None:
    assert is_secret_name("api_key") and is_secret_name("Vault_Token") and is_secret_name("DB_PASSWORD")
    assert not is_secret_name("LOG_LEVEL")


def test_known_secret_names_are_matched_whatever_their_case() -> None:
    mask = SecretMask([], names=["LENDER_ADDRESS"])
    assert mask.mapping({"lender_address": "0xabc"}) == {"lender_address": MASK}


def test_the_password_in_a_urls_userinfo_is_masked_and_the_user_kept() -> None:
    # given a database URL with a user and a password
    url = "postgresql+psycopg://bot:s3cret@db.internal:5432/journal"
    # when redacted
    redacted = redact_url(url)
    # then the user and host stay, the password does not
    assert redacted == "postgresql+psycopg://bot:***@db.internal:5432/journal"


def test_a_password_holding_a_raw_at_sign_is_masked_whole() -> None:
    assert redact_url("postgresql://bot:p@ss@db/journal") == "postgresql://bot:***@db/journal"


def test_a_password_query_parameter_is_masked() -> None:
    # given a URL carrying its password as a query parameter
    url = "postgresql://bot@db/journal?sslmode=require&password=s3cret"
    # when redacted
    redacted = redact_url(url)
    # then only the password's value is masked, the other parameters kept as written
    assert redacted == "postgresql://bot@db/journal?sslmode=require&password=***"


def test_token_like_query_parameters_are_masked_whatever_their_case() -> None:
    redacted = redact_url("https://api.example/v1?Access_Token=abc&api_key=def&limit=5#top")
    assert redacted == "https://api.example/v1?Access_Token=***&api_key=***&limit=5#top"


def test_a_url_without_credentials_is_returned_unchanged() -> None:
    # given URLs with a user but no password, and with no userinfo at all
    urls = [
        "https://bot@example.org/path?limit=5",
        "sqlite:///data/journal.db",
        "http://127.0.0.1:8000/metrics",
    ]
    # when redacted
    redacted = [redact_url(url) for url in urls]
    # then nothing changed
    assert redacted == urls


def test_a_sqlite_url_keeps_its_three_slashes_when_a_query_parameter_is_masked() -> None:
    assert redact_url("sqlite:///data/journal.db?password=x") == "sqlite:///data/journal.db?password=***"


def test_an_opaque_path_segment_such_as_a_provider_key_is_masked() -> None:
    # given RPC URLs carrying a provider key as a path segment (20+ letters and digits)
    urls = [
        "https://eth.example/v3/9aa3d95b3bc440fa88ea12eaa4456161",
        "https://eth-mainnet.g.alchemy.com/v2/AbCdEf_123-456ghIJKLmnop/",
    ]
    # when redacted
    redacted = [redact_url(url) for url in urls]
    # then the key is masked and the version and host kept
    assert redacted == ["https://eth.example/v3/***", "https://eth-mainnet.g.alchemy.com/v2/***/"]


def test_words_versions_and_file_names_in_a_path_are_not_opaque_tokens() -> None:
    for url in [
        "https://api.example/v1/markets/N2EX-DAY-AHEAD/orderbook",
        "sqlite:////var/lib/flash-green/journal-2024-archive.db",
        "https://api.example/averyveryverylongwordwithoutdigits",
    ]:
        assert redact_url(url) == url


def test_a_user_name_that_is_an_opaque_token_is_masked() -> None:
    assert redact_url("https://pl0user0token0abcdef123456@api.example/v1") == "https://***@api.example/v1"


def test_url_credentials_lists_what_redact_url_hides_as_written_and_decoded() -> None:
    url = "postgresql://bot:p%40ss-word@db/j?sslmode=require&password=q-secret#x"
    assert url_credentials(url) == ["p%40ss-word", "q-secret", "p@ss-word"]
    assert url_credentials("https://eth.example/v3/9aa3d95b3bc440fa88ea12eaa4456161") == [
        "9aa3d95b3bc440fa88ea12eaa4456161"
    ]
    assert url_credentials("https://bot@example.org/path?limit=5") == []


def test_a_file_url_keeps_its_path_however_token_like_a_directory_name_looks() -> None:
    # given a SQLite journal in a directory whose name looks like an opaque token
    url = "sqlite:////tmp/run-of-root/test_a_second_orchestrator_for0/journal.db"
    # when it is redacted, then nothing is hidden: a file path is not a provider key
    assert redact_url(url) == url
    assert url_credentials(url) == []
