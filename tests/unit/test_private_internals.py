"""Private internals of third-party libraries (and of tarfile) that hxpm relies on.

Each of these is outside the library's public API, so a new release may change it without
notice. pyproject.toml bounds dulwich and peft at the newest versions tested; these tests
are what tells whoever raises a bound (or a new Python changes tarfile) exactly what moved,
instead of a confusing failure deep in a network or merge test.
"""

from __future__ import annotations

import inspect
import tarfile
from typing import Any

import pytest


def _parameters(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


def _expect(condition: bool, what: str, used_by: str) -> None:
    if not condition:
        pytest.fail(
            f"private internal changed: {what}\n  used by {used_by}; adapt that code "
            "(and this test) before raising the dependency's upper bound"
        )


# --- dulwich -------------------------------------------------------------------------------


def test_dulwich_tcp_client_connect_hook():
    from dulwich.client import TCPGitClient

    _expect(
        callable(getattr(TCPGitClient, "_connect", None)),
        "dulwich.client.TCPGitClient._connect is gone",
        "hxpm/index/_gitwire.py",
    )
    _expect(
        _parameters(TCPGitClient._connect) == ["self", "cmd", "path", "protocol_version"],
        f"TCPGitClient._connect{inspect.signature(TCPGitClient._connect)} is not "
        "(self, cmd, path, protocol_version=None)",
        "hxpm/index/_gitwire.py",
    )
    client = TCPGitClient("127.0.0.1", 9418)
    _expect(
        getattr(client, "_host", None) == "127.0.0.1" and getattr(client, "_port", None) == 9418,
        "TCPGitClient no longer keeps _host and _port",
        "hxpm/index/_gitwire.py",
    )


def test_dulwich_http_client_request_hooks():
    from dulwich.client import Urllib3HttpGitClient

    request = getattr(Urllib3HttpGitClient, "_http_request", None)
    _expect(
        callable(request),
        "Urllib3HttpGitClient._http_request is gone",
        "hxpm/index/_githttp.py and _gitguard.py",
    )
    _expect(
        _parameters(request) == ["self", "url", "headers", "data", "raise_for_status"],
        f"Urllib3HttpGitClient._http_request{inspect.signature(request)} is not "
        "(self, url, headers, data, raise_for_status)",
        "hxpm/index/_gitguard.py",
    )
    discover = getattr(Urllib3HttpGitClient, "_discover_references", None)
    _expect(callable(discover), "_discover_references is gone", "hxpm/index/_githttp.py")
    _expect(
        _parameters(discover)[:5]
        == ["self", "service", "base_url", "protocol_version", "ref_prefix"],
        f"_discover_references{inspect.signature(discover)} changed its parameters",
        "hxpm/index/_githttp.py",
    )
    client = Urllib3HttpGitClient("http://127.0.0.1:9/repo.git", timeout=5)
    # guard_http sets _timeout per request and replaces _http_request on the instance.
    _expect(
        getattr(client, "_timeout", None) == 5,
        "Urllib3HttpGitClient keeps its timeout somewhere other than _timeout",
        "hxpm/index/_gitguard.py",
    )
    _expect(
        hasattr(client, "dumb"), "Urllib3HttpGitClient has no `dumb` flag", "hxpm/index/_githttp.py"
    )


# --- tarfile (stdlib) ----------------------------------------------------------------------


def test_tarfile_member_and_sparse_hooks():
    info = tarfile.TarInfo
    _expect(
        _parameters(getattr(info, "_proc_member", None) or (lambda: None)) == ["self", "tarfile"],
        "tarfile.TarInfo._proc_member(self, tarfile) changed",
        "hxpm/package/tarsafe.py",
    )
    for hook in ("_proc_gnusparse_00", "_proc_gnusparse_01", "_proc_gnusparse_10"):
        _expect(
            callable(getattr(info, hook, None)),
            f"tarfile.TarInfo.{hook} is gone",
            "hxpm/package/tarsafe.py (refuses PAX sparse files there)",
        )
        # tarfile reaches the hooks through self, so an override on a subclass wins.
        _expect(
            f"self.{hook}(" in inspect.getsource(info._proc_pax),
            f"TarInfo._proc_pax no longer calls self.{hook}",
            "hxpm/package/tarsafe.py",
        )
    _expect(
        "._proc_member(" in inspect.getsource(info.fromtarfile),
        "TarInfo.fromtarfile no longer calls _proc_member",
        "hxpm/package/tarsafe.py",
    )
    _expect(
        issubclass(getattr(tarfile, "EOFHeaderError", type), tarfile.HeaderError),
        "tarfile.EOFHeaderError is gone",
        "hxpm/package/tarsafe.py",
    )


def test_tarfile_hooks_really_refuse_sparse_members(tmp_path):
    """The hooks are not only present: a PAX sparse member reaches the override."""
    import io

    from hxpm.errors import PackageFormatError
    from hxpm.package.tarsafe import GuardedTarInfo

    member = tarfile.TarInfo("sparse.bin")
    member.size = 4
    member.pax_headers = {
        "GNU.sparse.major": "0",
        "GNU.sparse.minor": "1",
        "GNU.sparse.map": "0,4",
        "GNU.sparse.size": "4",
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(member, io.BytesIO(b"data"))
    raw.seek(0)
    with (
        pytest.raises(PackageFormatError, match="sparse"),
        tarfile.open(fileobj=raw, mode="r|", tarinfo=GuardedTarInfo) as tar,
    ):
        tar.getmembers()


# --- peft ----------------------------------------------------------------------------------


def _tiny_model() -> Any:
    torch = pytest.importorskip("torch")

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_proj = torch.nn.Linear(8, 8)
            self.up_proj = torch.nn.Linear(8, 8)

    torch.manual_seed(0)
    return Tiny()


@pytest.mark.runtime
@pytest.mark.parametrize("kind", ["lora", "dora", "ia3"])
def test_peft_layer_internals_read_by_merge_and_export(kind):
    peft = pytest.importorskip("peft")
    from peft.functional import inject_adapter_in_model
    from peft.tuners.tuners_utils import BaseTunerLayer

    if kind == "ia3":
        config = peft.IA3Config(
            target_modules=["q_proj", "up_proj"], feedforward_modules=["up_proj"]
        )
    else:
        config = peft.LoraConfig(
            r=2, lora_alpha=4, target_modules=["q_proj", "up_proj"], use_dora=kind == "dora"
        )
    model = inject_adapter_in_model(config, _tiny_model(), adapter_name="a")
    layer = model.q_proj
    where = "hxpm/runtime/merge.py, stack_export.py"
    _expect(
        isinstance(layer, BaseTunerLayer) and hasattr(layer, "base_layer"),
        f"{type(layer).__name__} is no BaseTunerLayer with a base_layer",
        where,
    )
    if kind == "ia3":
        from peft.tuners.ia3.layer import Linear as IA3Linear

        _expect(type(layer) is IA3Linear, "IA3 Linear layers moved", where)
        _expect(
            "a" in layer.ia3_l and model.up_proj.is_feedforward and not layer.is_feedforward,
            "IA3 layers lost ia3_l / is_feedforward",
            where,
        )
        return
    from peft.tuners.lora.layer import Linear as LoraLinear
    from peft.tuners.lora.variants import DoraLinearVariant

    _expect(type(layer) is LoraLinear, "LoRA Linear layers moved", where)
    for attr in ("lora_A", "lora_B", "scaling", "lora_variant", "lora_magnitude_vector"):
        _expect(hasattr(layer, attr), f"LoRA layers have no {attr}", where)
    _expect(layer.fan_in_fan_out is False, "LoRA layers lost fan_in_fan_out", where)
    _expect(
        layer.lora_A["a"].weight.shape == (2, 8) and layer.scaling["a"] == 2.0,
        "lora_A / scaling changed shape or meaning",
        where,
    )
    variant = layer.lora_variant.get("a")
    if kind == "dora":
        _expect(
            isinstance(variant, DoraLinearVariant) and "a" in layer.lora_magnitude_vector,
            "DoRA is no longer a DoraLinearVariant with a magnitude vector",
            where,
        )
    else:
        _expect(variant is None, "plain LoRA now has a variant", where)


@pytest.mark.runtime
def test_peft_functional_helpers_the_runtime_calls():
    pytest.importorskip("peft")
    import peft.functional as functional
    from peft.tuners.tuners_utils import cast_adapter_dtype
    from peft.utils import get_peft_model_state_dict

    where = "hxpm/runtime/adapters.py, session.py, train.py"
    for name, params in [
        ("inject_adapter_in_model", {"adapter_name", "low_cpu_mem_usage"}),
        ("set_peft_model_state_dict", {"adapter_name", "low_cpu_mem_usage"}),
        ("delete_adapter", {"prefix", "layer_cls"}),
        ("set_adapter", {"inference_mode"}),
    ]:
        func = getattr(functional, name, None)
        _expect(callable(func), f"peft.functional.{name} is gone", where)
        missing = params - set(_parameters(func))
        _expect(not missing, f"peft.functional.{name} lost parameters {sorted(missing)}", where)
    _expect(callable(cast_adapter_dtype), "cast_adapter_dtype is gone", where)
    _expect(
        "save_embedding_layers" in _parameters(get_peft_model_state_dict),
        "get_peft_model_state_dict lost save_embedding_layers",
        where,
    )
