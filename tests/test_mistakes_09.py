"""Catalogued mistakes in 09_vq_vae, each autograded with real nbgrader: each loses points on the right
tests with a message naming the likely cause; correct alternatives written differently get full marks.

One nbgrader run grades every submission. One mistake costs one exercise: VectorQuantizer calls quantize,
but the grader judges it with the course's quantize in place of the student's (vaecourse/verdicts/vq_vae.py),
so a quantize mistake costs test_quantize only, although the visible check of VectorQuantizer, which runs
the student's quantize, fails too. Mistakes are combined into one submission only when they sit in
different solution cells and cost different tests; the verdict then names the cause of a VectorQuantizer
mistake where the visible check blames quantize. The visible checks and the verdicts also name the causes
of further mistakes (L1 distance, channels-last z_q, flat indices, summed losses, random
re-initialisation, unnormalised counts, tensor results); the catalogue keeps the runs few.
"""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "09_vq_vae"
Q, VQ, P = "test_quantize", "test_vector_quantizer", "test_codebook_perplexity"
DISTANCES = ("flat.pow(2).sum(dim=1, keepdim=True)  # (N, 1)\n"
             "                 - 2 * flat @ codebook.t()  # (N, K)\n"
             "                 + codebook.pow(2).sum(dim=1))")

# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "argmax_not_argmin": Mistake(
        cell="quantize",
        edit=[("distances.argmin(dim=1)", "distances.argmax(dim=1)")],
        loses={Q},
        test=Q,
        message="use argmin, not argmax"),
    "no_permute_before_flatten": Mistake(
        cell="quantize",
        edit=[("z_e.permute(0, 2, 3, 1).reshape(-1, D)", "z_e.reshape(-1, D)")],
        loses={Q},
        test=Q,
        message="permute(0, 2, 3, 1) before reshape(-1, D)"),
    "dot_product_not_distance": Mistake(
        cell="quantize",
        edit=[("- 2 * flat @ codebook.t()  # (N, K)\n                 + codebook.pow(2).sum(dim=1))",
                                                       "- 2 * flat @ codebook.t())")],
        loses={Q},
        test=Q,
        message="largest dot product"),
    "no_straight_through": Mistake(
        cell="VectorQuantizer",
        edit=[("return z_q_st, vq_loss, indices", "return z_q, vq_loss, indices")],
        loses={VQ},
        test=VQ,
        message="gradient does not reach the encoder"),
    "commitment_and_codebook_swapped": Mistake(
        cell="VectorQuantizer",
        edit=[("vq_loss = codebook_loss + self.beta * commitment_loss",
                             "vq_loss = self.beta * codebook_loss + commitment_loss")],
        loses={VQ},
        test=VQ,
        message="swapped"),
    "no_stop_gradients": Mistake(
        cell="VectorQuantizer",
        edit=[("F.mse_loss(z_q, z_e.detach())", "F.mse_loss(z_q, z_e)"),
                                              ("F.mse_loss(z_e, z_q.detach())", "F.mse_loss(z_e, z_q)")],
        loses={VQ},
        test=VQ,
        message="stop-gradients are missing"),
    "resets_used_codes": Mistake(cell="VectorQuantizer", edit=[("counts == 0", "counts > 0")], loses={VQ}, test=VQ, message="NEVER appear"),
    "bincount_without_minlength": Mistake(
        cell="VectorQuantizer",
        edit=[("torch.bincount(indices.flatten(), minlength=self.num_codes)",
                                                        "torch.bincount(indices.flatten())")],
        loses={VQ},
        test=VQ,
        message="minlength"),
    "perplexity_without_exp": Mistake(
        cell="codebook_perplexity",
        edit=[("return float(torch.exp(-(p * p.log()).sum()))",
                                                        "return float(-(p * p.log()).sum())")],
        loses={P},
        test=P,
        message="exp(entropy)"),
    "log2_with_exp": Mistake(cell="codebook_perplexity", edit=[("p.log()", "p.log2()")], loses={P}, test=P, message="log2"),
    "zero_frequencies_kept": Mistake(
        cell="codebook_perplexity",
        edit=[("    p = p[p > 0]  # 0 * log 0 = 0: leave unused codes out\n", "")],
        loses={P},
        test=P,
        message="nan"),
    "counts_used_codes": Mistake(
        cell="codebook_perplexity",
        edit=[("return float(torch.exp(-(p * p.log()).sum()))",
                                                   "return float((counts > 0).sum())")],
        loses={P},
        test=P,
        message="number of codes used"),
}

VQ_INIT = (
    "class VectorQuantizer(nn.Module):\n"
    "    def __init__(self, num_codes, code_dim, beta=0.25):\n"
    "        super().__init__()\n"
    "        self.num_codes, self.code_dim, self.beta = num_codes, code_dim, beta\n"
    "        self.codebook = nn.Parameter(torch.empty(num_codes, code_dim).uniform_(-1 / num_codes, 1 / num_codes))\n\n")

CORRECT = {
    # cdist and F.embedding; losses written out with .detach(); dead codes found with a boolean mask;
    # perplexity in bits raised with 2 **.
    "cdist_embedding_bits": {
        "quantize": (
            "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n\n\n"
            "def quantize(z_e, codebook):\n"
            "    vectors = z_e.movedim(1, -1)  # (B, H, W, D)\n"
            "    flat = vectors.reshape(-1, vectors.shape[-1])\n"
            "    indices = torch.cdist(flat, codebook).argmin(dim=1)\n"
            "    z_q = F.embedding(indices, codebook).reshape(vectors.shape).movedim(-1, 1)\n"
            "    return z_q, indices.reshape(vectors.shape[:-1])\n"),
        "VectorQuantizer": VQ_INIT + (
            "    def forward(self, z_e):\n"
            "        z_q, indices = quantize(z_e, self.codebook)\n"
            "        codebook_term = ((z_e.detach() - z_q) ** 2).mean()\n"
            "        commitment_term = ((z_e - z_q.detach()) ** 2).mean()\n"
            "        return z_e + (z_q - z_e).detach(), codebook_term + self.beta * commitment_term, indices\n\n"
            "    @torch.no_grad()\n"
            "    def reset_dead_codes(self, z_e, indices):\n"
            "        used = torch.zeros(self.num_codes, dtype=torch.bool, device=indices.device)\n"
            "        used[indices.flatten()] = True\n"
            "        rows = z_e.movedim(1, -1).reshape(-1, self.code_dim)\n"
            "        moved = 0\n"
            "        for k in range(self.num_codes):\n"
            "            if not used[k]:\n"
            "                self.codebook.data[k] = rows[torch.randint(len(rows), ())]\n"
            "                moved += 1\n"
            "        return moved\n"),
        "codebook_perplexity": (
            "def codebook_perplexity(indices, num_codes):\n"
            "    _, counts = torch.unique(indices, return_counts=True)\n"
            "    p = counts.double() / counts.sum()\n"
            "    bits = -(p * torch.log2(p)).sum().item()\n"
            "    return 2.0 ** bits\n"),
    },
    # Broadcast differences and gather; straight-through written as z_q + (z_e - z_e.detach());
    # perplexity from torch.distributions.
    "broadcast_categorical": {
        "quantize": (
            "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n\n\n"
            "def quantize(z_e, codebook):\n"
            "    B, D, H, W = z_e.shape\n"
            "    flat = z_e.permute(0, 2, 3, 1).reshape(B * H * W, D)\n"
            "    d = ((flat.unsqueeze(1) - codebook.unsqueeze(0)) ** 2).sum(dim=2)\n"
            "    idx = torch.min(d, dim=1).indices\n"
            "    z_q = torch.index_select(codebook, 0, idx).view(B, H, W, D).permute(0, 3, 1, 2).contiguous()\n"
            "    return z_q, idx.view(B, H, W)\n"),
        "VectorQuantizer": VQ_INIT + (
            "    def forward(self, z_e):\n"
            "        z_q, indices = quantize(z_e, self.codebook)\n"
            "        loss = F.mse_loss(z_q, z_e.detach()) + self.beta * F.mse_loss(z_q.detach(), z_e)\n"
            "        z_q_st = z_q.detach() + (z_e - z_e.detach())\n"
            "        return z_q_st, loss, indices\n\n"
            "    @torch.no_grad()\n"
            "    def reset_dead_codes(self, z_e, indices):\n"
            "        counts = torch.zeros(self.num_codes, dtype=torch.long)\n"
            "        counts.index_add_(0, indices.flatten().cpu(), torch.ones(indices.numel(), dtype=torch.long))\n"
            "        dead = (counts == 0).nonzero(as_tuple=True)[0]\n"
            "        rows = z_e.permute(0, 2, 3, 1).reshape(-1, self.code_dim)\n"
            "        choice = torch.randperm(len(rows))[:len(dead)] if len(rows) >= len(dead) else torch.randint(len(rows), (len(dead),))\n"
            "        self.codebook[dead.to(self.codebook.device)] = rows[choice.to(rows.device)]\n"
            "        return len(dead)\n"),
        "codebook_perplexity": (
            "def codebook_perplexity(indices, num_codes):\n"
            "    counts = torch.bincount(indices.reshape(-1), minlength=num_codes).float()\n"
            "    dist = torch.distributions.Categorical(probs=counts / counts.sum())\n"
            "    return dist.entropy().exp().item()\n"),
    },
}

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=10, grouping="greedy", assertion_errors_count=True)


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
