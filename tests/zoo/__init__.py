"""The zoo of models others made: discovery, independent truth, comparison."""
