module github.com/surge-mq/surge/migrations

go 1.26.0
