"""Reports: detection quality, trends, efficacy, regulator exports."""
