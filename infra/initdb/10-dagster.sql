-- Dagster's own storage lives in a separate database on the same server.
create database dagster owner synkro;
