"""IAM's template rendering rules, on small inline templates."""

from __future__ import annotations

import json

import pytest

from vell_core.domain.policies import PolicyParameter, TemplateRenderError, render_template

TEMPLATE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": "arn:aws:s3:::@{BucketName}/@{Prefix}/*",
        },
        {"@Enabled": "AllowWrites", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*"},
        {
            "@Enabled": "!AllowWrites",
            "Effect": "Deny",
            "Action": ["s3:PutObject"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "@{Teams}"}},
        },
    ],
}


def render(**values: tuple[str, ...] | str) -> dict:
    parameters = []
    for name, value in values.items():
        if isinstance(value, tuple):
            parameters.append(PolicyParameter(name, value, "stringList"))
        else:
            parameters.append(PolicyParameter(name, (value,)))
    return json.loads(render_template(TEMPLATE, parameters))


def test_string_list_in_resource_is_a_cross_product() -> None:
    policy = render(
        BucketName=("alpha", "beta"), Prefix=("in", "out"), AllowWrites="True", Teams=("x",)
    )
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws:s3:::alpha/in/*",
        "arn:aws:s3:::alpha/out/*",
        "arn:aws:s3:::beta/in/*",
        "arn:aws:s3:::beta/out/*",
    ]


def test_enabled_keeps_only_exact_true_and_removes_the_directive() -> None:
    enabled = render(BucketName="b", Prefix="p", AllowWrites="True", Teams=("x",))
    assert [s["Effect"] for s in enabled["Statement"]] == ["Allow", "Allow"]
    disabled = render(BucketName="b", Prefix="p", AllowWrites="true", Teams=("x", "y"))
    assert [s["Effect"] for s in disabled["Statement"]] == ["Allow", "Deny"]
    assert all("@Enabled" not in s for s in disabled["Statement"])
    assert disabled["Statement"][1]["Condition"]["StringEquals"]["aws:PrincipalTag/team"] == [
        "x",
        "y",
    ]


def test_missing_unknown_and_bad_parameters_are_refused() -> None:
    with pytest.raises(TemplateRenderError, match="Missing"):
        render(BucketName="b", Prefix="p", AllowWrites="True")
    with pytest.raises(TemplateRenderError, match="Unknown"):
        render(BucketName="b", Prefix="p", AllowWrites="True", Teams=("x",), Extra="z")
    with pytest.raises(TemplateRenderError, match="invalid value"):
        render(BucketName='b"', Prefix="p", AllowWrites="True", Teams=("x",))
    with pytest.raises(TemplateRenderError, match="5-256"):
        render_template({"Statement": [{"Resource": "@{Id}"}]}, [PolicyParameter("Id", ("1",))])


def test_rendered_policy_over_2048_is_refused() -> None:
    with pytest.raises(TemplateRenderError, match="2048"):
        render(
            BucketName=tuple(f"bucket-{i:03d}" for i in range(90)),
            Prefix="p",
            AllowWrites="True",
            Teams=("x",),
        )
