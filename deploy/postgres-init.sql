-- One database per service: each service owns its schema and migration history.
CREATE DATABASE vnsb_identity;
CREATE DATABASE vnsb_dossier;
CREATE DATABASE vnsb_payment;
CREATE DATABASE vnsb_gateway;
