"""Device bugs that a CPU can catch, so CI sees what only a GPU runtime would show a student.

On a CPU every tensor lives in one place, so mixed-device bugs pass every notebook run here
and fail on Colab's GPU. Three of their causes can be read off the code:

- a check that hands a student's function a model it built on the CPU: a student who moves
  batches to the notebook's `device` (cuda) then fails with a raw RuntimeError (issue 11);
- `.numpy()` on a tensor that may be on the GPU (plots): it must go through `.cpu()`;
- `torch.load` without `map_location`, or a checkpoint whose tensors come back on the GPU
  and are then concatenated with CPU tensors (05's montage on a second run, issue 11).

The first three are read from the masters' code cells and the notebook-side package; the
last runs the real `load_checkpoint` with the `meta` device standing in for a GPU.
`benchmarks/gpu_check.py` runs the notebooks themselves on a CUDA machine.
"""
import ast
import re
from pathlib import Path

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
MASTERS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
# Notebook-side modules: inlined into the student notebooks by the build.
NOTEBOOK_MODULES = [ROOT / "vaecourse" / f"{name}.py" for name in ("runtime", "data", "checking", "plots")]
MAGIC = re.compile(r"^\s*[%!]", re.M)

# Factories that make a tensor on the CPU unless given device=.
CPU_FACTORIES = {"arange", "zeros", "ones", "tensor", "linspace", "rand", "randn", "randint", "full", "empty", "eye"}
# Course helpers that return a CPU tensor whatever they are given (vaecourse/plots.py).
CPU_HELPERS = {"image_grid"}


def code_cells(path: Path):
    """(label, grade_id, source) of every code cell of a master, magics blanked."""
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            md = cell.metadata.get("nbgrader", {})
            yield f"{path.stem} cell {index}", md, MAGIC.sub("pass  #", cell.source)


def module_classes() -> set[str]:
    """Names of the nn.Module subclasses defined anywhere in the masters (ConvVAE, VQVAE, ...)."""
    names = set()
    for path in MASTERS:
        for _, _, source in code_cells(path):
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ClassDef) and any(ast.unparse(b).endswith("Module") for b in node.bases):
                    names.add(node.name)
    return names


def model_taking_functions() -> set[str]:
    """Student functions that are handed a model and run it: their first parameter is model or classifier,
    and they call it (model(x), model.encoder(x)), not only read it (count_parameters: model.parameters())."""
    names = set()
    for path in MASTERS:
        for _, md, source in code_cells(path):
            if md.get("solution"):
                for node in ast.walk(ast.parse(source)):
                    if isinstance(node, ast.FunctionDef) and node.args.args and \
                            node.args.args[0].arg in {"model", "classifier"} and runs(node, node.args.args[0].arg):
                        names.add(node.name)
    return names


def runs(function: ast.FunctionDef, name: str) -> bool:
    """True if function calls `name(...)` or `name.part(...)` other than to read its parameters or set its mode."""
    reading = {"parameters", "named_parameters", "modules", "children", "eval", "train", "state_dict"}
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == name:
                return True
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and \
                    node.func.value.id == name and node.func.attr not in reading:
                return True
    return False


def chain(node):
    """The receivers of a method chain, outermost first: a.b().c(d) -> [a.b().c(d), a.b().c, a.b(), a.b, a]."""
    while True:
        yield node
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        else:
            return


def calls_method(node, method: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == method
               for n in chain(node))


def _parents(tree):
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def unplaced_models(source: str, classes: set[str]) -> list[str]:
    """Models built outside a class body and never moved with .to(...): 'line N: ConvVAE(...)'."""
    tree = ast.parse(source)
    parents = _parents(tree)
    moved = {ast.unparse(n.func.value) for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "to"}
    problems = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes):
            continue
        scope = parents.get(node)  # the statement the call is part of
        while scope is not None and not isinstance(scope, (ast.stmt, ast.ClassDef)):
            scope = parents.get(scope)
        inside_class = any(isinstance(p, ast.ClassDef) for p in _ancestors(node, parents))
        if inside_class:
            continue  # a submodule: it moves with its parent
        # The constructor call is placed if some enclosing expression of it calls .to(...)...
        placed = any(isinstance(p, ast.Call) and isinstance(p.func, ast.Attribute) and p.func.attr == "to"
                     for p in _ancestors(node, parents, stop=ast.stmt))
        # ...or the name it is assigned to is moved later (model.to(device), return model.to(device)).
        if not placed and isinstance(scope, ast.Assign):
            placed = any(ast.unparse(target) in moved for target in scope.targets)
        if not placed:
            problems.append(f"line {node.lineno}: {ast.unparse(node)}")
    return problems


def _ancestors(node, parents, stop=None):
    node = parents.get(node)
    while node is not None:
        yield node
        if stop is not None and isinstance(node, stop):
            return
        node = parents.get(node)


def numpy_without_cpu(source: str) -> list[str]:
    """Calls of .numpy() whose tensor may be on the GPU: no .cpu() in the chain, and not a CPU factory
    or a name last assigned from a .cpu() chain in the same scope."""
    tree = ast.parse(source)
    cpu_names = set()
    problems = []
    for node in sorted((n for n in ast.walk(tree) if hasattr(n, "lineno")), key=lambda n: (n.lineno, n.col_offset)):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if calls_method(node.value, "cpu"):
                cpu_names.add(node.targets[0].id)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "numpy"):
            continue
        receiver = node.func.value
        if calls_method(receiver, "cpu") or any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                                                  and n.func.id in CPU_HELPERS for n in chain(receiver)):
            continue
        root = list(chain(receiver))[-1]
        factory = next((n for n in chain(receiver) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                        and isinstance(n.func.value, ast.Name) and n.func.value.id == "torch"
                        and n.func.attr in CPU_FACTORIES), None)
        if factory is not None and not any(k.arg == "device" for k in factory.keywords):
            continue
        if isinstance(root, ast.Name) and root.id in cpu_names:
            continue
        problems.append(f"line {node.lineno}: {ast.unparse(node)}")
    return problems


def torch_loads_without_map_location(source: str) -> list[str]:
    return [f"line {n.lineno}: {ast.unparse(n)}" for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Call) and ast.unparse(n.func) == "torch.load"
            and not any(k.arg == "map_location" for k in n.keywords)]


# ---------------------------------------------------------------- the rules on the real code

def test_the_rules_find_the_model_taking_exercises():
    """The audit covers every exercise that runs a model the check hands it (it would pass vacuously otherwise)."""
    assert {"train_one_epoch", "evaluate", "encode_dataset", "iwae_bound", "sample_class_histogram"} <= \
        model_taking_functions()
    assert "count_parameters" not in model_taking_functions()  # reads the model, never runs it
    assert {"ConvVAE", "Encoder", "Decoder", "VQVAE", "DigitClassifier"} <= module_classes()


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_checks_place_the_models_they_hand_to_student_functions(master):
    """A check that runs a student's model-taking function builds that model where the notebook runs."""
    classes, functions = module_classes(), model_taking_functions()
    problems = []
    for label, md, source in code_cells(master):
        if md.get("grade") and any(re.search(rf"\b{f}\(", source) for f in functions):
            problems += [f"{label} ({md['grade_id']}) {p}" for p in unplaced_models(source, classes)]
    assert not problems, ("models built on the CPU and handed to a student's function: a student who moves "
                          "batches to the notebook's device fails on a GPU. Add .to(device):\n" + "\n".join(problems))


@pytest.mark.parametrize("source_file", MASTERS + NOTEBOOK_MODULES, ids=lambda p: p.name)
def test_numpy_goes_through_cpu(source_file):
    """Everything turned into NumPy (to plot it) comes from the CPU: .numpy() of a CUDA tensor raises."""
    if source_file.suffix == ".py":
        cells = [(source_file.name, {}, source_file.read_text())]
    else:
        cells = list(code_cells(source_file))
    problems = [f"{label} {p}" for label, _, source in cells for p in numpy_without_cpu(source)]
    assert not problems, "write .cpu().numpy():\n" + "\n".join(problems)


def test_every_torch_load_names_map_location():
    sources = [(f"{label}", s) for path in MASTERS for label, _, s in code_cells(path)]
    for path in [*ROOT.glob("vaecourse/**/*.py"), *ROOT.glob("benchmarks/*.py"), *ROOT.glob("tests/*.py")]:
        sources.append((str(path.relative_to(ROOT)), path.read_text()))
    problems = [f"{label} {p}" for label, s in sources for p in torch_loads_without_map_location(s)]
    assert not problems, "torch.load without map_location:\n" + "\n".join(problems)


# ---------------------------------------------------------------- the rules catch what they should

def test_rule_flags_a_model_built_on_the_cpu_and_accepts_placed_ones():
    classes = {"ConvVAE"}
    assert unplaced_models("_m = ConvVAE(latent_dim=2)\ntrain_one_epoch(_m, b, o)\n", classes) == \
        ["line 1: ConvVAE(latent_dim=2)"]
    assert unplaced_models("_m = ConvVAE(2).double().to(device)\n", classes) == []
    assert unplaced_models("def f():\n    m = ConvVAE(2)\n    return m.to(device)\n", classes) == []
    assert unplaced_models("class S(nn.Module):\n    def __init__(self):\n        self.v = ConvVAE(2)\n", classes) == []


def test_rule_flags_numpy_of_a_tensor_that_may_be_on_the_gpu():
    assert numpy_without_cpu("ax.plot(points[:, 0].numpy())") == ["line 1: points[:, 0].numpy()"]
    assert numpy_without_cpu("torch.arange(10, device=device).numpy()") != []
    assert numpy_without_cpu("ax.plot(points[:, 0].cpu().numpy())") == []
    assert numpy_without_cpu("torch.arange(10).numpy()") == []
    assert numpy_without_cpu("ax.imshow(image_grid(x_hat, nrow=8).numpy())") == []
    assert numpy_without_cpu("images = x.detach().cpu()\nimages = images.numpy()") == []


def test_rule_flags_torch_load_without_map_location():
    assert torch_loads_without_map_location("c = torch.load(path, weights_only=True)") != []
    assert torch_loads_without_map_location("c = torch.load(path, map_location='cpu')") == []


# ---------------------------------------------------------------- a checkpoint from any device

def test_load_checkpoint_keeps_the_checkpoint_on_the_cpu_and_moves_only_the_model(tmp_path):
    """The `meta` device stands in for a GPU: the model goes there, the saved snapshots stay on the CPU
    (05's montage concatenates them with CPU images; before the fix a second run on a GPU failed there)."""
    from vaecourse.reference.decoder import ConvVAE
    from vaecourse.reference.training import load_checkpoint, save_checkpoint

    path = tmp_path / "vae.pt"
    save_checkpoint(path, ConvVAE(latent_dim=2), latent_dim=2, snapshots=torch.rand(3, 28, 448),
                    history={"test total": [180.0]})
    model, checkpoint = load_checkpoint(path, torch.device("meta"))
    assert next(model.parameters()).device.type == "meta"
    assert checkpoint["snapshots"].device.type == "cpu"
    assert all(t.device.type == "cpu" for t in checkpoint["model"].values())
    assert not model.training
