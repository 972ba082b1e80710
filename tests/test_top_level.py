"""The top-level API a PyTorch program meets first: devices, the cuda/accelerator/backends queries,
dtypes and their limits, the constructors, amp, compile and jit — each against PyTorch."""
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from tests.torch_parity import to_numpy

import ember as em
from ember import backend, creation, dtypes


@pytest.fixture
def default_dtype_restored():
    yield
    em.set_default_dtype(em.float32)


# The CPU's answers (no GPU, clear errors) are checked where there is no GPU, that is in CI and on
# every developer machine; on a GPU machine the GPU tests of each module check the other side.
WITHOUT_GPU = pytest.mark.skipif(em.cuda.is_available(), reason="checks the answers of a machine without a GPU")


# -- devices ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda", 0), ("cuda:1",), ("cpu", 0)])
def test_device_type_index_and_repr_match_torch(args):
    d, t = em.device(*args), torch.device(*args)
    assert (d.type, d.index, repr(d), str(d)) == (t.type, t.index, repr(t), str(t))


def test_device_equality_follows_type_and_index():
    assert em.device("cuda:0") == em.device("cuda", 0) and em.device("cuda") != em.device("cuda:0")
    assert em.device(em.device("cuda:1")) == "cuda:1" and hash(em.device("cpu")) == hash(em.device("cpu"))
    assert pickle.loads(pickle.dumps(em.device("cuda", 2))) == em.device("cuda:2")


@pytest.mark.parametrize("bad", ["cuda:x", "tpu", "cuda:-1"])
def test_bad_device_strings_raise_runtime_error_as_in_torch(bad):
    with pytest.raises(RuntimeError):
        torch.device(bad)
    with pytest.raises(RuntimeError):
        em.device(bad)


def test_tensor_device_is_a_device_that_equals_its_name():
    x = em.zeros(2)
    assert x.device == em.device("cpu") and x.device == "cpu" and x.device.type == "cpu"
    assert repr(x.device) == repr(torch.zeros(2).device)


def test_devices_are_accepted_wherever_a_device_name_is():
    cpu = em.device("cpu")
    x = em.tensor([1.0, 2.0], device=cpu)
    assert x.to(cpu) is x and x.to(cpu, em.float64).dtype == np.float64
    assert em.zeros(2, device=cpu).device == cpu and em.randn(2, device=cpu).device == cpu
    assert em.zeros_like(x, device=cpu).device == cpu and em.arange(3, device=cpu).device == cpu
    model = em.nn.Linear(2, 2).to(cpu)
    assert model.weight.device == cpu
    assert backend.normalize_device(em.device("cuda", 1)) == "cuda"


@WITHOUT_GPU
def test_moving_to_cuda_without_cupy_gives_the_clear_error():
    with pytest.raises(RuntimeError, match="needs CuPy"):
        em.zeros(2).to(em.device("cuda", 0))
    with pytest.raises(RuntimeError, match="needs CuPy"):
        em.zeros(2, device="cuda:0")


# -- cuda, accelerator, backends ---------------------------------------------------------------------
@WITHOUT_GPU
def test_cuda_queries_have_the_cpu_answers_without_a_gpu():
    assert em.cuda.is_available() is False and em.cuda.device_count() == 0
    assert em.cuda.is_bf16_supported() is False and em.cuda.current_device() == 0
    em.cuda.synchronize(), em.cuda.empty_cache(), em.cuda.reset_peak_memory_stats()
    em.cuda.manual_seed(0), em.cuda.manual_seed_all(0), em.cuda.set_device(0)
    assert em.cuda.memory_allocated() == 0 and em.cuda.max_memory_allocated() == 0
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        em.cuda.get_device_name(0)
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        em.cuda.set_device(1)


def test_cuda_seeding_leaves_the_host_generator_alone():
    em.manual_seed(3)
    expected = em.randn(4)
    em.manual_seed(3)
    em.cuda.manual_seed(99)
    assert np.array_equal(em.randn(4).numpy(), expected.numpy())


@WITHOUT_GPU
def test_accelerator_reports_none_on_the_cpu():
    assert em.accelerator.is_available() is False and em.accelerator.current_accelerator() is None
    assert em.accelerator.device_count() == 0
    em.accelerator.synchronize()
    with pytest.raises(RuntimeError, match="none is available"):
        em.accelerator.current_device_index()


def test_backend_switches_are_stored():
    cudnn = em.backends.cudnn
    saved = (cudnn.benchmark, cudnn.deterministic, cudnn.enabled)
    try:
        cudnn.benchmark, cudnn.deterministic, cudnn.enabled = True, True, False
        assert (cudnn.benchmark, cudnn.deterministic, cudnn.enabled) == (True, True, False)
    finally:
        cudnn.benchmark, cudnn.deterministic, cudnn.enabled = saved
    assert em.backends.mps.is_available() is False and em.backends.mkldnn.enabled is True


def test_tf32_switch_and_matmul_precision_mirror_each_other():
    try:
        em.set_float32_matmul_precision("high")
        assert em.backends.cuda.matmul.allow_tf32 is True and em.get_float32_matmul_precision() == "high"
        em.backends.cuda.matmul.allow_tf32 = False
        assert em.get_float32_matmul_precision() == "highest"
        with pytest.raises(ValueError, match="highest"):
            em.set_float32_matmul_precision("fast")
    finally:
        em.set_float32_matmul_precision("highest")


def test_deterministic_algorithms_switch():
    try:
        em.use_deterministic_algorithms(True, warn_only=True)
        assert em.are_deterministic_algorithms_enabled() is True
        assert em.backends.is_deterministic_algorithms_warn_only_enabled() is True
    finally:
        em.use_deterministic_algorithms(False)
    assert em.are_deterministic_algorithms_enabled() is False


# -- constants and dtypes ----------------------------------------------------------------------------
def test_constants_match_torch():
    assert (em.pi, em.e, em.inf) == (torch.pi, torch.e, torch.inf) and np.isnan(em.nan)


@pytest.mark.parametrize("name", ["bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32",
                                  "float64", "half", "float", "double", "long", "int", "short"])
def test_dtype_names_match_torch(name):
    ours, theirs = getattr(em, name), getattr(torch, name)
    assert np.dtype(ours) == to_numpy(torch.zeros(1, dtype=theirs)).dtype
    assert em.zeros(2, dtype=ours).dtype == ours


def test_dtype_names_leave_the_builtins_alone():
    namespace = {}
    exec("from ember import *", namespace)
    assert "bool" not in namespace and "float" not in namespace and "int" not in namespace
    assert "float32" in namespace and "zeros" in namespace


def test_bfloat16_through_ml_dtypes():
    pytest.importorskip("ml_dtypes")
    x = em.tensor([1.0, 2.5, 3.0])
    y = x.to(em.bfloat16)
    assert y.dtype == em.bfloat16 and y.dtype.name == "bfloat16"
    assert np.array_equal((y + y).float().numpy(), [2.0, 5.0, 6.0])
    assert em.is_floating_point(y) and em.finfo(em.bfloat16).eps == torch.finfo(torch.bfloat16).eps
    assert em.zeros(2, dtype=em.bfloat16).dtype == em.bfloat16


def test_bfloat16_without_ml_dtypes_names_the_extra():
    code = ("import sys; sys.modules['ml_dtypes'] = None\n"
            "import ember\n"
            "try:\n    ember.bfloat16\nexcept ImportError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'ember[bfloat16]'" in out


def test_default_dtype_drives_floats_and_factories(default_dtype_restored):
    assert em.get_default_dtype() == em.float32 and torch.get_default_dtype() == torch.float32
    em.set_default_dtype(em.float64)
    assert em.get_default_dtype() == em.float64
    for t in (em.tensor([1.5]), em.zeros(2), em.rand(2), em.arange(0.0, 1.0, 0.5), em.linspace(0, 1, 3),
              em.full((2,), 1.5), em.normal(0.0, 1.0, (2,))):
        assert t.dtype == np.float64
    assert em.tensor([1]).dtype == np.int64 and em.arange(3).dtype == np.int64
    with pytest.raises(TypeError, match="floating-point"):
        em.set_default_dtype(em.int64)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_finfo_matches_torch(dtype):
    ours, theirs = em.finfo(getattr(em, dtype)), torch.finfo(getattr(torch, dtype))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert em.finfo().eps == torch.finfo().eps
    with pytest.raises(TypeError):
        em.finfo(em.int32)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8"])
def test_iinfo_matches_torch(dtype):
    ours, theirs = em.iinfo(getattr(em, dtype)), torch.iinfo(getattr(torch, dtype))
    assert (ours.bits, ours.max, ours.min, ours.dtype) == (theirs.bits, theirs.max, theirs.min, theirs.dtype)
    with pytest.raises(TypeError):
        em.iinfo(em.float32)


def test_type_predicates():
    assert em.is_floating_point(em.zeros(1)) and not em.is_floating_point(em.arange(2))
    assert not em.is_complex(em.zeros(1)) and em.is_grad_enabled()
    assert dtypes.is_floating_dtype(np.float16) and not dtypes.is_floating_dtype(np.complex64)


# -- constructors ------------------------------------------------------------------------------------
def _same(ours, theirs):
    assert ours.shape == tuple(theirs.shape) and ours.dtype == to_numpy(theirs).dtype
    np.testing.assert_allclose(ours.numpy(), to_numpy(theirs), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make", [
    lambda m: m.zeros(2, 3), lambda m: m.zeros((2, 3)), lambda m: m.zeros([2, 3]), lambda m: m.zeros(size=(2, 3)),
    lambda m: m.ones(4), lambda m: m.empty(2, 2).zero_(), lambda m: m.zeros(()),
    lambda m: m.full((2, 3), 7), lambda m: m.full((2,), 2.5), lambda m: m.full([2], True),
    lambda m: m.eye(3), lambda m: m.eye(2, 4), lambda m: m.eye(3, dtype=m.int64),
    lambda m: m.arange(5), lambda m: m.arange(1, 4), lambda m: m.arange(0, 1, 0.1), lambda m: m.arange(2.5),
    lambda m: m.arange(5, 0, -1.5), lambda m: m.arange(0, 10, 3, dtype=m.float64),
    lambda m: m.linspace(0, 1, steps=5), lambda m: m.linspace(-2, 3, 7, dtype=m.float64),
    lambda m: m.logspace(0, 2, steps=3), lambda m: m.logspace(0, 3, 4, base=2),
    lambda m: m.tensor([[1, 2], [3, 4]], dtype=m.float64), lambda m: m.tensor(3.5), lambda m: m.tensor([True]),
    lambda m: m.as_tensor([1.0, 2.0], dtype=m.float64),
], ids=lambda f: "")
def test_constructors_match_torch(make):
    _same(make(em), make(torch))


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"])
def test_like_forms_keep_shape_dtype_device_unless_given(name):
    x = em.zeros(2, 3, dtype=em.float64)
    y = getattr(em, name)(x)
    assert y.shape == (2, 3) and y.dtype == np.float64 and y.device == x.device
    assert getattr(em, name)(x, dtype=em.float32).dtype == np.float32
    assert getattr(em, name)(x, requires_grad=True).requires_grad


def test_full_like_and_randint_like():
    x = em.zeros(2, 3, dtype=em.int64)
    assert em.full_like(x, 7).dtype == np.int64 and (em.full_like(x, 7).numpy() == 7).all()
    r = em.randint_like(em.zeros(500), 2, 5)
    assert r.dtype == np.float32 and set(np.unique(r.numpy())) == {2.0, 3.0, 4.0}
    assert set(np.unique(em.randint_like(em.zeros(100, dtype=em.int64), 3).numpy())) == {0, 1, 2}


def test_factories_with_requires_grad_make_leaves():
    for t in (em.zeros(2, requires_grad=True), em.ones(2, 2, requires_grad=True), em.randn(3, requires_grad=True),
              em.full((2,), 1.0, requires_grad=True), em.linspace(0, 1, 3, requires_grad=True)):
        assert t.requires_grad and t.is_leaf


def test_as_tensor_and_from_numpy_share_memory():
    a = np.zeros(3)
    assert em.as_tensor(a).array is a and em.from_numpy(a).array is a
    x = em.zeros(3)
    assert em.as_tensor(x) is x and em.as_tensor(x, dtype=em.float64).dtype == np.float64
    with pytest.raises(TypeError, match="expected np.ndarray"):
        em.from_numpy([1, 2])
    assert em.tensor(a).array is not a


@pytest.mark.parametrize("make", [
    lambda m, out: m.zeros(2, 3, out=out), lambda m, out: m.ones(4, out=out), lambda m, out: m.full((3,), 2, out=out),
    lambda m, out: m.arange(6, out=out), lambda m, out: m.linspace(0, 1, 4, out=out), lambda m, out: m.eye(2, out=out),
    lambda m, out: m.logspace(0, 1, 3, out=out),
], ids=lambda f: "")
@pytest.mark.parametrize("out_dtype", ["float32", "int64"])
def test_out_is_written_in_place_and_resized_like_torch(make, out_dtype):
    ours, theirs = em.zeros(4, dtype=getattr(em, out_dtype)), torch.zeros(4, dtype=getattr(torch, out_dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns when it resizes a non-empty out
        result_t = make(torch, theirs)
    result = make(em, ours)
    assert result is ours
    _same(ours, result_t)


def test_out_of_the_same_shape_keeps_its_memory():
    out = em.zeros(3)
    alias = out.array
    em.arange(3.0, out=out)
    assert out.array is alias and np.array_equal(alias, [0.0, 1.0, 2.0])


def test_arange_rejects_a_zero_or_wrong_signed_step_like_torch():
    for args in [(0, 5, 0), (0, 5, -1)]:
        with pytest.raises(RuntimeError):
            torch.arange(*args)
        with pytest.raises(RuntimeError):
            em.arange(*args)


def test_the_top_level_names_are_the_constructors_not_shadowed_ops():
    for name in ("zeros", "full", "arange", "normal", "multinomial", "bernoulli", "randint"):
        assert getattr(em, name) is getattr(creation, name)


# -- amp ---------------------------------------------------------------------------------------------
def test_autocast_is_a_no_op_context_manager_and_decorator():
    x = em.randn(3, 4)
    with em.autocast(device_type="cpu", dtype=em.float16):
        y = x @ x.T
    assert y.dtype == np.float32

    @em.amp.autocast("cuda")
    def f(a):
        return a * 2

    assert np.array_equal(f(x).numpy(), (x * 2).numpy()) and f.__name__ == "f"
    with em.cuda.amp.autocast(enabled=False):
        pass


def _scaler_run(lib, scaler, steps, poison):
    """SGD steps on a tiny regression with ``scaler``; gradients are made infinite at step ``poison``."""
    lib.manual_seed(0)
    w = lib.nn.Parameter(lib.tensor([[0.5, -1.0], [2.0, 0.25]]))
    opt = lib.optim.SGD([w], lr=0.1)
    x, y = lib.tensor([[1.0, 2.0], [3.0, -1.0]]), lib.tensor([[0.0, 1.0], [1.0, 0.0]])
    scales = []
    for i in range(steps):
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean() * (float("inf") if i == poison else 1.0)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return to_numpy(w), scales, scaler.state_dict()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the poisoned step's inf · 0
def test_grad_scaler_matches_torch_step_for_step():
    ours = _scaler_run(em, em.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3), 8, poison=4)
    theirs = _scaler_run(torch, torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3), 8, poison=4)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    assert ours[1] == theirs[1] and ours[2] == theirs[2]


def test_disabled_grad_scaler_is_the_identity_like_torch():
    ours, theirs = em.amp.GradScaler("cpu", enabled=False), torch.amp.GradScaler("cpu", enabled=False)
    loss = em.tensor(2.0)
    assert ours.scale(loss) is loss and ours.get_scale() == theirs.get_scale() == 1.0
    assert ours.state_dict() == theirs.state_dict() == {}
    w = em.nn.Parameter(em.ones(2))
    opt = em.optim.SGD([w], lr=1.0)
    (w * 3).sum().backward()
    ours.step(opt)
    ours.update()
    assert np.array_equal(w.detach().numpy(), [-2.0, -2.0])


@WITHOUT_GPU
def test_cuda_grad_scaler_disables_itself_without_a_gpu():
    with pytest.warns(UserWarning, match="CUDA is not available"):
        assert em.cuda.amp.GradScaler().is_enabled() is False
    with pytest.warns(UserWarning, match="CUDA is not available"):
        assert em.amp.GradScaler().is_enabled() is False


def test_grad_scaler_state_round_trips_and_misuse_raises():
    scaler = em.amp.GradScaler("cpu", init_scale=8.0)
    other = em.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 8.0 and other.state_dict() == scaler.state_dict()
    with pytest.raises(RuntimeError, match="empty"):
        other.load_state_dict({})
    w = em.nn.Parameter(em.ones(2))
    opt = em.optim.SGD([w], lr=1.0)
    scaler.scale((w * w).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 2.0])


# -- compile and jit ---------------------------------------------------------------------------------
def test_compile_and_jit_return_what_they_are_given():
    model = em.nn.Linear(3, 2)
    assert em.compile(model) is model and em.compile(model, mode="max-autotune", fullgraph=True) is model
    assert em.jit.script(model) is model and em.jit.trace(model, em.randn(1, 3)) is model

    @em.compile
    def f(x):
        return x + 1

    @em.compile(dynamic=True)
    def g(x):
        return x + 2

    @em.jit.ignore
    def h(x):
        return x + 3

    assert f(1) == 2 and g(1) == 3 and h(1) == 4 and not em.jit.is_scripting()
