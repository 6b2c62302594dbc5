"""Running reduced models: weights, execution, comparison with the original, kernels. Never imports textual."""
