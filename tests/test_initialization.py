"""From-scratch initialization: a click's attention over the image starts at the click."""
import torch

from napari_sam2.model import SAM2Model, micro_config
from napari_sam2.training.initialization import match_prompt_and_image_positions


def click_attention(model: SAM2Model, x: float, y: float) -> torch.Tensor:
    """(h, w) first-layer token->image attention logits of a click, positions only (no image)."""
    encoder = model.sam_prompt_encoder
    size = model.cfg.image_size
    click = encoder.pe_layer.encode_pixels(torch.tensor([[[x + 0.5, y + 0.5]]]), (size, size))[0, 0]  # (C,)
    grid = encoder.dense_pe()[0]  # (C, h, w)
    attention = model.sam_mask_decoder.transformer.layers[0].cross_attn_token_to_image
    query = attention.q_proj.weight.detach() @ click  # (inner,)
    keys = torch.einsum("ic,chw->ihw", attention.k_proj.weight.detach(), grid)
    return torch.einsum("i,ihw->hw", query, keys)


def argmax_cell(logits: torch.Tensor) -> tuple[int, int]:
    flat = int(logits.argmax())
    return flat // logits.shape[1], flat % logits.shape[1]


def test_after_initialization_a_click_attends_most_to_its_own_grid_cell():
    """(Without it, the argmax is anywhere: the projections scramble the position encodings.)"""
    torch.manual_seed(0)
    model = SAM2Model(micro_config())
    match_prompt_and_image_positions(model, torch.Generator().manual_seed(0))
    stride = model.cfg.image_size // model.sam_prompt_encoder.embedding_hw[0]
    clicks = torch.rand(40, 2, generator=torch.Generator().manual_seed(1)) * model.cfg.image_size
    offsets = []
    for x, y in clicks:
        row, col = argmax_cell(click_attention(model, float(x), float(y)))
        offsets.append(max(abs(row - int(y) // stride), abs(col - int(x) // stride)))
    assert max(offsets) <= 1  # a click near a cell's border may pick the neighbour
    assert offsets.count(0) >= 0.6 * len(offsets)


def test_initialization_ties_only_the_cross_attention_queries_and_keys():
    model = SAM2Model(micro_config())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    match_prompt_and_image_positions(model)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(("cross_attn" in k or "final_attn" in k) and k.endswith(("q_proj.weight", "k_proj.weight"))
                           for k in changed)
    for name in ("layers.0.cross_attn_token_to_image", "layers.1.cross_attn_image_to_token", "final_attn_token_to_image"):
        module = model.sam_mask_decoder.transformer.get_submodule(name)
        assert torch.equal(module.q_proj.weight, module.k_proj.weight)


def test_after_initialization_memory_attention_looks_at_the_same_place_in_the_memories():
    from napari_sam2.model.rope import rotate
    from napari_sam2.training.initialization import match_frame_and_memory_positions

    model = SAM2Model(micro_config())
    match_frame_and_memory_positions(model, torch.Generator().manual_seed(0))
    side = model.cfg.image_size // 16
    for layer in model.memory_attention.layers:
        attention = layer.cross_attn_image
        rotation = attention._rotations(side * side, "cpu")
        # positions only: zero features leave the equal biases as query and key at every token
        query = rotate(attention.q_proj.bias.detach().expand(1, 1, side * side, -1), rotation)
        key = rotate(attention.k_proj.bias.detach().expand(1, 1, side * side, -1), rotation)
        weights = torch.softmax(query[0, 0] @ key[0, 0].T / key.shape[-1] ** 0.5, dim=-1)  # (HW, HW)
        assert torch.equal(weights.argmax(-1), torch.arange(side * side))
        assert weights.diagonal().min() > 0.5  # most of each query's attention on its own place
