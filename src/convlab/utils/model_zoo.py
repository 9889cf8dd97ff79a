"""``torch.utils.model_zoo``: the old home of :func:`convlab.hub.load_state_dict_from_url`."""

from ..hub import load_state_dict_from_url  # noqa: F401

load_url = load_state_dict_from_url
