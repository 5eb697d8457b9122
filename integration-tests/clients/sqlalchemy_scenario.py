"""SQLAlchemy ORM over psycopg2: DDL from declarative models, reflection through the
inspector (pg_catalog queries), and an ORM session round trip with a failing flush.

Connects with PGHOST/PGPORT/PGUSER/PGDATABASE and prints what it observes, one line per
observation, so the test can compare DriftDB's transcript with PostgreSQL's.
"""
import datetime
import decimal
import os

from sqlalchemy import (
    Boolean, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint,
    create_engine, delete, inspect, select, text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, selectinload

UTC = datetime.timezone.utc


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("email", name="authors_email_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    email: Mapped[str] = mapped_column(String(120), nullable=False)
    bio: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    books: Mapped[list["Book"]] = relationship(
        back_populates="author", order_by="Book.title", passive_deletes=True)


class Book(Base):
    __tablename__ = "books"
    __table_args__ = (Index("ix_books_author_published", "author_id", "published"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    price: Mapped[decimal.Decimal | None] = mapped_column(Numeric(10, 2))
    in_print: Mapped[bool | None] = mapped_column(Boolean)
    published: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    author: Mapped[Author] = relationship(back_populates="books")


env = os.environ
url = f"postgresql+psycopg2://{env['PGUSER']}@{env['PGHOST']}:{env['PGPORT']}/{env['PGDATABASE']}"
engine = create_engine(url)
Base.metadata.create_all(engine)

insp = inspect(engine)
print("tables", sorted(insp.get_table_names()))
print("has_table", insp.has_table("books"), insp.has_table("nope"))
for table in ("authors", "books"):
    for c in insp.get_columns(table):
        print("column", table, c["name"], str(c["type"]), getattr(c["type"], "timezone", "-"),
              c["nullable"], c["default"] is not None, c["default"], c["autoincrement"],
              "identity" in c)
    pk = insp.get_pk_constraint(table)
    print("pk", table, pk["name"], pk["constrained_columns"])
    for fk in insp.get_foreign_keys(table):
        print("fk", table, fk["name"], fk["constrained_columns"], fk["referred_schema"],
              fk["referred_table"], fk["referred_columns"], sorted(fk["options"].items()))
    for ix in sorted(insp.get_indexes(table), key=lambda ix: ix["name"]):
        print("index", table, ix["name"], ix["column_names"], ix["unique"])
    for uc in sorted(insp.get_unique_constraints(table), key=lambda uc: uc["name"]):
        print("unique", table, uc["name"], uc["column_names"])

with Session(engine) as session:
    ada = Author(name="Ada", email="ada@example.com", bio="Analyst")
    bob = Author(name="Bob", email="bob@example.com", active=False)
    ada.books = [
        Book(title="Notes", price=decimal.Decimal("12.50"), in_print=True,
             published=datetime.datetime(1843, 9, 1, 12, 0, tzinfo=UTC)),
        Book(title="Engines", price=decimal.Decimal("99.99"), in_print=False),
    ]
    bob.books = [Book(title="Bits", published=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))]
    session.add_all([ada, bob])
    session.commit()
    print("ids", ada.id, bob.id, sorted(b.id for b in ada.books + bob.books))
    print("server default", ada.active, bob.active)

with Session(engine) as session:
    rows = session.scalars(select(Book).where(Book.price > 10).order_by(Book.price.desc())).all()
    print("priced", [(b.title, b.price) for b in rows])
    joined = session.execute(
        select(Author.name, Book.title).join(Author.books).where(Author.active.is_(True))
        .order_by(Book.title)
    ).all()
    print("joined", [tuple(r) for r in joined])
    authors = session.scalars(select(Author).options(selectinload(Author.books)).order_by(Author.id)).all()
    for a in authors:
        print("author", a.name, a.bio, [(b.title, b.in_print, b.published and b.published.astimezone(UTC))
                                        for b in a.books])
    bits = session.scalars(select(Book).where(Book.title == "Bits")).one()
    print("lazy author", bits.author.name, bits.author.email)
    bits.price = decimal.Decimal("1.05")
    bits.author.bio = "Updated"
    session.commit()
    print("updated", bits.price, bits.author.bio)
    session.delete(session.scalars(select(Book).where(Book.title == "Engines")).one())
    session.commit()
    print("count after delete", session.scalar(select(Book.id).where(Book.title == "Engines")),
          len(session.scalars(select(Book)).all()))
    session.add(Author(name="Dup", email="ada@example.com"))
    try:
        session.commit()
    except IntegrityError as e:
        print("integrity error", type(e).__name__, type(e.orig).__name__, e.orig.pgcode)
        session.rollback()
    print("after rollback", sorted(session.scalars(select(Author.name)).all()))
    deleted = session.execute(delete(Author).where(Author.name == "Ada"))
    print("bulk delete rowcount", deleted.rowcount)
    session.commit()
    print("books left after cascade", [b.title for b in session.scalars(select(Book).order_by(Book.id))])

Base.metadata.drop_all(engine)
print("tables after drop", sorted(inspect(engine).get_table_names()))
engine.dispose()
