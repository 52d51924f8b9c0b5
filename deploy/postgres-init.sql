-- One database per service: each owns its data and its migration history.
CREATE DATABASE wangge_grid;
CREATE DATABASE wangge_intake;
CREATE DATABASE wangge_dispatch;
