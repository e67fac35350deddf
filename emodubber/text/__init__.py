"""Text side: the ARPAbet symbol table (pad reserved), CMUdict G2P, the GRID grammar."""
