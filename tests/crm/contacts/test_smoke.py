from niaga.crm.contacts import service
from niaga.crm.contacts.repository import ContactFilter


def test_create_and_find(session, shop):
    c = shop.contact(session, full_name="Siti Aminah", emails=["Siti@Contoh.example"], phones=["0812-3456-7890"],
                     addresses={"shipping": {"street": "Jl. Kaliurang 5", "city": "Sleman", "province": "DIY", "postal_code": "55281"}},
                     tags="vip, Grosir", birth_date="1990-01-02", gender="female")
    assert c.emails[0].email == "siti@contoh.example"
    page = service.list_contacts(session, shop.p(), ContactFilter(query="+62 812 3456 7890"))
    assert [x.id for x in page.contacts] == [c.id]
    page = service.list_contacts(session, shop.p(), ContactFilter(query="siti"))
    assert [x.id for x in page.contacts] == [c.id]
    page = service.list_contacts(session, shop.p(), ContactFilter(tag="grosir"))
    assert [x.id for x in page.contacts] == [c.id]


def test_merge_smoke(session, shop):
    from niaga.crm.contacts.merge import merge_contacts
    keep = shop.contact(session, full_name="Budi Santoso", emails=["budi@contoh.example"], notes="a")
    dup = shop.contact(session, full_name="Budi S", emails=["budi.s@contoh.example"], phones=["081311112222"],
                       loyalty_card_number="MJ-001", notes="b", tags=["vip"])
    r = merge_contacts(session, shop.p(), keep.id, dup.id)
    session.commit()
    assert sorted(str(e.email) for e in r.kept.emails) == ["budi.s@contoh.example", "budi@contoh.example"]
    assert r.kept.loyalty_card_number == "MJ-001"
    page = service.list_contacts(session, shop.p(), ContactFilter(query="budi.s@contoh.example"))
    assert [x.id for x in page.contacts] == [keep.id]
    page = service.list_contacts(session, shop.p(), ContactFilter(query="MJ-001"))
    assert [x.id for x in page.contacts] == [keep.id]
    print(r.resealed, r.references)
