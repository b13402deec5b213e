"""The Hessian engine: the operator v -> Hv, its HVP backends, and the estimator result."""
