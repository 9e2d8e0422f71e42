"""Operations: what a team that leaves seqflow running needs: fresh data validated, a gate between models."""
