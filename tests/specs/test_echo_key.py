"""A text that is only a label name is an echo of the label, however it is spelled."""

import pytest

from apps.specs.texts import echo_key, word_text

SPELLINGS = [
    "feature_request",
    "Feature request",
    "feature-request",
    "FEATURE REQUEST",
    "Feature Request.",
    "featureRequest",
    "FeatureRequest",
    "  feature  request! ",
    "feature.request",
    "feature/request",
    "Feature_Request?!",
    '"feature request"',
    "«Feature request»",
    "feature\trequest\n",
    "ＦｅａｔｕｒｅＲｅｑｕｅｓｔ",  # full-width (NFKC)
    "feature\u00a0request",  # no-break space
    "feature – request",
]


@pytest.mark.parametrize("text", SPELLINGS)
def test_every_spelling_of_a_label_has_the_label_s_key(text):
    assert echo_key(text) == echo_key("feature_request") == "feature request"


@pytest.mark.parametrize(
    "text",
    [
        "I have a feature request for the export page",
        "Feature request: add dark mode",
        "feature",
        "requests",
        "feature requests",
        "featurerequest is not two words",
    ],
)
def test_texts_that_say_more_than_the_label_are_not_its_echo(text):
    assert echo_key(text) != echo_key("feature_request")


def test_labels_of_other_shapes():
    assert echo_key("Bug") == echo_key(" bug. ") == echo_key("BUG!") == "bug"
    assert echo_key("HTTPError") == echo_key("http_error") == "http error"
    assert echo_key("v2Beta") == echo_key("V2 beta")
    assert echo_key("Straße") == echo_key("STRASSE")  # casefolded, not just lowered
    assert echo_key("Café") == echo_key("Cafe\u0301")  # composed either way


def test_keys_of_texts_without_words_and_of_other_scripts():
    assert echo_key("") == echo_key("  ") == echo_key("!!! ...") == ""
    # Combining marks stay with their letter: these two Hindi words differ only in them.
    assert echo_key("कि") != echo_key("का")
    assert echo_key("किताब!") == "किताब"
    assert echo_key("「機能リクエスト」") == "機能リクエスト"
    assert echo_key("a\ud800b") == "a b"  # a lone surrogate does not crash


def test_word_text_keeps_camel_case_words_whole():
    # Near-duplicates compare words as written; only echoes split camelCase.
    assert word_text("Feature-Request, please!") == "feature request please"
    assert word_text("featureRequest") == "featurerequest"
