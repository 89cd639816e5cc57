"""The working calendar kept in the database: imports (notice or schedule), coverage, clocks that follow."""
